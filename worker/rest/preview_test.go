package rest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const (
	previewEventJSON = `{"specversion": "1.0", "id": "e1", "source": "/shop", "type": "order.created", "datacontenttype": "application/json", "data": {"total": 12.5}}`
	// previewBody keeps one event, drops one, fails one (its secret key
	// must not show) and rewrites the type of the kept one.
	previewBody = `{"config": {"transforms": "noaudit,rename,check,tag", "transforms.noaudit.type": "drop", "transforms.noaudit.match": "audit",
 "transforms.rename.type": "settype", "transforms.rename.to": "order.v2", "transforms.check.type": "fail", "transforms.check.key": "k3y-s3cr3t",
 "transforms.tag.type": "exts", "transforms.tag.predicate": "notbad", "predicates": "notbad", "predicates.notbad.type": "subject", "predicates.notbad.is": "ok"},
 "events": [` + previewEventJSON + `,
  {"specversion": "1.0", "id": "e2", "source": "/shop", "type": "audit"},
  {"specversion": "1.0", "id": "e3", "source": "/shop", "type": "order.created", "subject": "bad"},
  {"specversion": "1.0", "id": "e4", "source": "/shop", "type": "order.created", "subject": "ok", "datacontenttype": "text/plain", "data": "hi"}]}`
)

// TestRESTPreview checks the preview route's contract beyond the golden
// bodies: one result per event in order, output events that decode, no
// secret echoed, and 400s that name what is wrong.
func TestRESTPreview(t *testing.T) {
	t.Parallel()
	h := newTestServer(t, newRestFake(), nil).Handler()
	rec := do(h, "POST", "/transforms/preview", previewBody)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "k3y-s3cr3t") {
		t.Errorf("response leaks the secret: %s", rec.Body)
	}
	var resp struct {
		Results []struct {
			Dropped   bool              `json:"dropped"`
			DroppedBy string            `json:"dropped_by"`
			Events    []json.RawMessage `json:"events"`
			Error     string            `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 4 {
		t.Fatalf("%d results, want 4: %s", len(resp.Results), rec.Body)
	}
	r := resp.Results
	var kept struct{ ID, Type string }
	if len(r[0].Events) != 1 || json.Unmarshal(r[0].Events[0], &kept) != nil || kept.ID != "e1" || kept.Type != "order.v2" || r[0].Dropped {
		t.Errorf("result 0 = %+v, want e1 kept as order.v2", r[0])
	}
	if !r[1].Dropped || r[1].DroppedBy != "noaudit" || len(r[1].Events) != 0 || r[1].Error != "" {
		t.Errorf("result 1 = %+v, want dropped by noaudit", r[1])
	}
	if r[2].Dropped || r[2].Error == "" || !strings.Contains(r[2].Error, `transform "check"`) || len(r[2].Events) != 0 {
		t.Errorf("result 2 = %+v, want the check step's error", r[2])
	}
	if len(r[3].Events) != 1 || !strings.Contains(string(r[3].Events[0]), `"alpha":1,"mid":true,"zeta":"z","data":"hi"`) {
		t.Errorf("result 3 = %s, want the tag step applied, extensions in order, text data kept", r[3].Events)
	}

	for _, tt := range []struct{ name, body, want string }{
		{"malformed event", `{"events": [` + previewEventJSON + `, {"id": "x"}]}`, "events[1]: cloudevent"},
		{"too many", `{"events": [` + strings.Repeat(`{},`, 1000) + `{}]}`, "at most 1000 events, got 1001"},
		{"invalid chain", `{"config": {"transforms": "a"}}`, "transforms.a.type"},
		{"body not object", `[]`, "wrong JSON type"},
	} {
		rec := do(h, "POST", "/transforms/preview", tt.body)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s: %d %s; want 400 containing %q", tt.name, rec.Code, rec.Body, tt.want)
		}
	}
}

// FuzzRESTPreview feeds arbitrary bodies to the preview route: it answers
// 200 with one result per event, or a Kafka Connect-shaped 400/413.
func FuzzRESTPreview(f *testing.F) {
	for _, s := range []string{
		previewBody,
		`{"config": {}, "events": [` + previewEventJSON + `]}`,
		`{"config": {"transforms": "a", "transforms.a.type": "exts"}, "events": [{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "x": 1}]}`,
		`{"events": [null, 1, "a", [], {}]}`,
		`{"config": {"transforms": "a,a", "transforms.a.type": "fail", "transforms.a.key": "${env:X}"}}`,
		`{"events": [{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data_base64": "!!"}]}`,
		`[]`, `null`, `{`, "\xff",
	} {
		f.Add(s)
	}
	h := newTestServer(f, newRestFake(), nil).Handler()
	f.Fuzz(func(t *testing.T, body string) {
		rec := do(h, "POST", "/transforms/preview", body)
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
		switch rec.Code {
		case http.StatusOK:
			var req struct {
				Events []json.RawMessage `json:"events"`
			}
			var resp struct {
				Results []json.RawMessage `json:"results"`
			}
			if err := json.Unmarshal([]byte(body), &req); err != nil {
				t.Fatalf("200 for a body that does not decode: %v", err)
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Results) != len(req.Events) {
				t.Fatalf("%d results for %d events (%v): %s", len(resp.Results), len(req.Events), err, rec.Body)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var e struct {
				ErrorCode int    `json:"error_code"`
				Message   string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ErrorCode != rec.Code || e.Message == "" {
				t.Fatalf("error body %s not in Kafka Connect's shape", rec.Body)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
