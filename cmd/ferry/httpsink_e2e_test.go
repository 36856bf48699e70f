package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEndToEndWebhookRelay is issue 16's relay, on the real binary: an
// EventBridge-style webhook relay, http source → filter + template → http
// sink with OAuth2, per-tenant URLs from the event and a dead-letter file.
// Paid orders reach the destination reshaped, once each (a 503 with
// Retry-After on the first try of one of them is retried after the wait);
// the order the destination refuses with 400 is dead-lettered with the
// status and the answer; the rest are filtered out. The client secret and
// the access token never appear in the connector's REST config or in any
// log line, although the destination echoes the Authorization header.
func TestEndToEndWebhookRelay(t *testing.T) {
	const clientSecret = "relay-client-secret-5be1c0de"
	dir := t.TempDir()
	dlq := filepath.Join(dir, "dead.jsonl")

	type hit struct {
		path, auth, id, ct, body string
		at                       time.Time
	}
	var (
		mu      sync.Mutex
		hits    []hit
		tokens  int
		refused = map[string]bool{}
	)
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/token" {
			if id, sec, ok := r.BasicAuth(); !ok || id != "relay" || sec != clientSecret {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			mu.Lock()
			tokens++
			tok := fmt.Sprintf("relay-token-%d-f00d", tokens)
			mu.Unlock()
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":3600}`, tok)
			return
		}
		h := hit{path: r.URL.Path, auth: r.Header.Get("Authorization"), id: r.Header.Get("X-Event-Id"), ct: r.Header.Get("Content-Type"), body: string(body), at: time.Now()}
		mu.Lock()
		hits = append(hits, h)
		first := !refused[h.id]
		refused[h.id] = true
		mu.Unlock()
		switch {
		case strings.Contains(h.body, `"order": 13,`):
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "order 13 refused; you sent Authorization: %s", h.auth)
		case strings.Contains(h.body, `"order": 2,`) && first:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "busy; you sent Authorization: %s", h.auth)
		}
	}))
	t.Cleanup(dest.Close)

	w := startWorker(t, filepath.Join(dir, "data"), freeAddr(t))
	hookAddr := freeAddr(t)
	const name = "relay"
	code, body := w.do("POST", "/connectors", map[string]any{
		"name": name,
		"config": map[string]string{
			"source":                           "http",
			"source.listen":                    hookAddr,
			"source.path":                      "/events",
			"source.response.timeout":          "20s",
			"transforms":                       "paid,reshape",
			"transforms.paid.type":             "filter",
			"transforms.paid.pattern":          `{"data": {"status": ["PAID"]}}`,
			"transforms.reshape.type":          "template",
			"transforms.reshape.form":          "TEMPLATE",
			"transforms.reshape.value":         `{"id": "$.data.id", "total": "$.data.total", "tenant": "$.data.tenant"}`,
			"transforms.reshape.template":      `{"order": ${id}, "amount": ${total}, "tenant": "${tenant}"}`,
			"sink":                             "http",
			"sink.url.form":                    "TEMPLATE",
			"sink.url.value":                   `{"tenant": "$.data.tenant"}`,
			"sink.url.template":                dest.URL + "/orders/${tenant}",
			"sink.body":                        "data",
			"sink.vars":                        `{"id": "$.id"}`,
			"sink.headers.X-Event-Id":          "${id}",
			"sink.auth":                        "oauth2",
			"sink.auth.token.url":              dest.URL + "/token",
			"sink.auth.client.id":              "relay",
			"sink.auth.client.secret":          clientSecret,
			"errors.tolerance":                 "all",
			"errors.log.enable":                "true",
			"errors.deadletterqueue.sink":      "file",
			"errors.deadletterqueue.sink.path": dlq,
			"errors.retry.delay.max.ms":        "200",
		},
	})
	if code != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", code, body)
	}
	waitRunning(t, w, name)
	waitListening(t, hookAddr)

	client := &http.Client{Timeout: 30 * time.Second}
	send := func(id, data string) {
		t.Helper()
		ev := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/shop","type":"order.updated","data":%s}`, id, data)
		resp, err := client.Post("http://"+hookAddr+"/events", "application/cloudevents+json", strings.NewReader(ev))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: webhook answered %d %s", id, resp.StatusCode, b)
		}
	}
	send("e-1", `{"id": 1, "status": "PAID", "total": 12.5, "tenant": "acme"}`)
	send("e-2", `{"id": 2, "status": "PAID", "total": 3, "tenant": "globex"}`)
	send("e-3", `{"id": 3, "status": "NEW", "total": 9, "tenant": "acme"}`)
	send("e-13", `{"id": 13, "status": "PAID", "total": 1, "tenant": "acme"}`)
	send("e-4", `{"id": 4, "status": "PAID", "total": 40, "tenant": "acme"}`)

	// Each answer came after the sink wrote (or dead-lettered) its event.
	mu.Lock()
	got := append([]hit(nil), hits...)
	nTokens := tokens
	mu.Unlock()
	type want struct{ path, id, body string }
	wants := []want{
		{"/orders/acme", "e-1", `{"order": 1, "amount": 12.5, "tenant": "acme"}`},
		{"/orders/globex", "e-2", `{"order": 2, "amount": 3, "tenant": "globex"}`}, // 503
		{"/orders/globex", "e-2", `{"order": 2, "amount": 3, "tenant": "globex"}`},
		{"/orders/acme", "e-13", `{"order": 13, "amount": 1, "tenant": "acme"}`}, // 400
		{"/orders/acme", "e-4", `{"order": 4, "amount": 40, "tenant": "acme"}`},
	}
	if len(got) != len(wants) {
		t.Fatalf("destination got %d requests, want %d: %+v", len(got), len(wants), got)
	}
	for i, wt := range wants {
		g := got[i]
		if g.path != wt.path || g.id != wt.id || g.body != wt.body || g.ct != "application/json" || g.auth != "Bearer relay-token-1-f00d" {
			t.Errorf("request %d: %+v; want %+v with the first token", i, g, wt)
		}
	}
	if wait := got[2].at.Sub(got[1].at); wait < time.Second {
		t.Errorf("e-2 retried %v after a 503 with Retry-After: 1", wait)
	}
	if nTokens != 1 {
		t.Errorf("%d tokens fetched, want 1 (cached)", nTokens)
	}

	// The refused order is in the dead-letter file with the answer.
	f, err := os.Open(dlq)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var dead []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		dead = append(dead, m)
	}
	if len(dead) != 1 || dead[0]["id"] != "e-13" {
		t.Fatalf("dead letters %v, want e-13 alone", dead)
	}
	reason, _ := dead[0]["ferryerror"].(string)
	if !strings.Contains(reason, "answered 400") || !strings.Contains(reason, "order 13 refused") {
		t.Errorf("dead letter's error %q lacks the status and the answer", reason)
	}

	// Secrets: not in the REST config, not in any log line, not in the
	// dead letter, although the destination echoed the token.
	code, body = w.do("GET", "/connectors/"+name+"/config", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"sink.auth.client.secret":"[hidden]"`) {
		t.Errorf("config: HTTP %d %s; want the client secret hidden", code, body)
	}
	_, status := w.do("GET", "/connectors/"+name+"/status", nil)
	everything := string(body) + string(status) + w.logText() + reason
	for _, secret := range []string{clientSecret, "relay-token-1-f00d"} {
		if strings.Contains(everything, secret) {
			t.Errorf("%q appears in the REST config, status, logs or dead letter", secret)
		}
	}
	if !strings.Contains(w.logText(), "[hidden]") {
		t.Errorf("the worker logged no retried or refused answer at all:\n%s", tail(w.logText(), 3000))
	}
}
