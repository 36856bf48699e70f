package mns

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// These tests speak raw HTTP to the Handler, for the header and error paths
// the SDK never exercises (it always signs correctly and sends every header).

const (
	rawKeyID  = "raw-id"
	rawSecret = "raw-secret"
)

func TestStringToSign(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/queues/q/messages?numOfMessages=2&waitseconds=3", nil)
	r.Header.Set("Content-MD5", "bWQ1")
	r.Header.Set("Content-Type", "application/xml")
	r.Header.Set("Date", "Thu, 09 Jul 2015 03:01:34 GMT")
	r.Header.Set("x-mns-version", "2015-06-06")
	r.Header.Set("X-MNS-Prefix", "  pre ") // names are lower-cased, values trimmed
	r.Header.Set("Security-Token", "ignored")
	want := "GET\nbWQ1\napplication/xml\nThu, 09 Jul 2015 03:01:34 GMT\n" +
		"x-mns-prefix:pre\nx-mns-version:2015-06-06\n/queues/q/messages?numOfMessages=2&waitseconds=3"
	if got := stringToSign(r); got != want {
		t.Fatalf("stringToSign:\n%q\nwant\n%q", got, want)
	}
}

// rawServer serves the Handler with its clock fixed at t0, with one queue.
func rawServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(Config{AccessKeyID: rawKeyID, AccessKeySecret: rawSecret, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	s.queues["q"] = newQueue("q", defaultAttrs(), t0, "RAW")
	return s, hs
}

// rawRequest builds a request signed the way the SDK signs, then lets
// mutate break it.
func rawRequest(t *testing.T, base, method, uri, body string, mutate func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, base+uri, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(body))
	r.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:]))))
	r.Header.Set("Content-Type", "application/xml")
	r.Header.Set("Date", t0.Format(http.TimeFormat))
	r.Header.Set("x-mns-version", apiVersion)
	r.RequestURI = uri // stringToSign reads it, as on the server side
	r.Header.Set("Authorization", "MNS "+rawKeyID+":"+sign(rawSecret, stringToSign(r)))
	r.RequestURI = ""
	if mutate != nil {
		mutate(r)
	}
	return r
}

func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	_, hs := rawServer(t)
	send := "<Message><MessageBody>hi</MessageBody></Message>"
	tests := []struct {
		name        string
		method, uri string
		body        string
		mutate      func(*http.Request)
		status      int
		code        string
	}{
		{"no authorization", "GET", "/queues/q", "", func(r *http.Request) { r.Header.Del("Authorization") }, 400, "MissingAuthorizationHeader"},
		{"not MNS scheme", "GET", "/queues/q", "", func(r *http.Request) { r.Header.Set("Authorization", "Basic abc") }, 400, "InvalidAuthorizationHeader"},
		{"no colon", "GET", "/queues/q", "", func(r *http.Request) { r.Header.Set("Authorization", "MNS abc") }, 400, "InvalidAuthorizationHeader"},
		{"no date", "GET", "/queues/q", "", func(r *http.Request) { r.Header.Del("Date") }, 400, "MissingDateHeader"},
		{"bad date", "GET", "/queues/q", "", func(r *http.Request) { r.Header.Set("Date", "yesterday") }, 400, "InvalidDateHeader"},
		{"stale date", "GET", "/queues/q", "", func(r *http.Request) {
			r.Header.Set("Date", t0.Add(-20*time.Minute).Format(http.TimeFormat))
		}, 408, "TimeExpired"},
		{"no version", "GET", "/queues/q", "", func(r *http.Request) { r.Header.Del("x-mns-version") }, 400, "MissingVersionHeader"},
		{"signed other path", "GET", "/queues/q", "", func(r *http.Request) { r.URL.Path = "/queues/other" }, 403, "SignatureDoesNotMatch"},
		{"tampered body", "POST", "/queues/q/messages", send, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(send, "hi", "ho", 1)))
		}, 400, "InvalidDegist"},
		{"missing topic", "GET", "/topics/t", "", nil, 404, "TopicNotExist"},
		{"unknown topic path", "GET", "/topics/t/x/y/z", "", nil, 400, "InvalidRequestURL"},
		{"bad queue name", "GET", "/queues/-q", "", nil, 400, "InvalidQueueName"},
		{"missing queue", "GET", "/queues/nope/messages", "", nil, 404, "QueueNotExist"},
		{"empty queue", "GET", "/queues/q/messages", "", nil, 404, "MessageNotExist"},
		{"malformed xml", "POST", "/queues/q/messages", "<Message><MessageBody>", nil, 400, "MalformedXML"},
		{"no body element", "POST", "/queues/q/messages", "<Message><Priority>1</Priority></Message>", nil, 400, "InvalidArgument"},
		{"wrong root", "POST", "/queues/q/messages", "<Queue/>", nil, 400, "InvalidArgument"},
		{"priority out of range", "POST", "/queues/q/messages", "<Message><MessageBody>x</MessageBody><Priority>17</Priority></Message>", nil, 400, "InvalidArgument"},
		{"waitseconds too long", "GET", "/queues/q/messages?waitseconds=31", "", nil, 400, "InvalidArgument"},
		{"numOfMessages too many", "GET", "/queues/q/messages?numOfMessages=17", "", nil, 400, "InvalidArgument"},
		{"visibility without handle", "PUT", "/queues/q/messages?VisibilityTimeout=5", "", nil, 400, "MissingReceiptHandle"},
		{"visibility without timeout", "PUT", "/queues/q/messages?ReceiptHandle=1-MS0x", "", nil, 400, "MissingVisibilityTimeout"},
		{"create with bad attribute", "PUT", "/queues/new", "<Queue><VisibilityTimeout>0</VisibilityTimeout></Queue>", nil, 400, "InvalidArgument"},
		{"batch delete nothing", "DELETE", "/queues/q/messages", "<ReceiptHandles/>", nil, 400, "InvalidArgument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rawRequest(t, hs.URL, tt.method, tt.uri, tt.body, tt.mutate)
			resp, err := hs.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var e struct {
				XMLName   xml.Name
				Code      string
				RequestID string `xml:"RequestId"`
				HostID    string `xml:"HostId"`
			}
			if err := xml.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %q: %v", body, err)
			}
			if resp.StatusCode != tt.status || e.Code != tt.code {
				t.Fatalf("got %d %s, want %d %s; body %s", resp.StatusCode, e.Code, tt.status, tt.code, body)
			}
			if e.XMLName.Space != xmlns || e.XMLName.Local != "Error" || e.RequestID == "" ||
				e.RequestID != resp.Header.Get("x-mns-request-id") || !strings.HasPrefix(e.HostID, "http://") {
				t.Fatalf("error envelope: %+v, headers %v", e, resp.Header)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

func TestHTTPSendWithNamespaceAndDefaults(t *testing.T) {
	t.Parallel()
	s, hs := rawServer(t)
	// Other SDKs put the MNS namespace on request bodies and leave out
	// optional elements; both must work.
	body := `<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>ns</MessageBody></Message>`
	resp, err := hs.Client().Do(rawRequest(t, hs.URL, "POST", "/queues/q/messages", body, nil))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !bytes.Contains(out, []byte(`<Message xmlns="`+xmlns+`">`)) {
		t.Fatalf("send: %d %s", resp.StatusCode, out)
	}
	s.mu.Lock()
	got := s.queues["q"].peek(t0, 1)
	s.mu.Unlock()
	if len(got) != 1 || got[0].Body != "ns" || got[0].Priority != defaultPriority {
		t.Fatalf("stored message: %+v", got)
	}
}

// TestHTTPChoices pins the behaviour doc.go lists where MNS's documentation
// is silent.
func TestHTTPChoices(t *testing.T) {
	t.Parallel()
	s, hs := rawServer(t)
	s.mu.Lock()
	delayed := defaultAttrs()
	delayed.DelaySeconds = 60
	s.queues["slow"] = newQueue("slow", delayed, t0, "RAW")
	s.mu.Unlock()

	do := func(method, uri, body string) (int, string) {
		t.Helper()
		resp, err := hs.Client().Do(rawRequest(t, hs.URL, method, uri, body, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}

	if st, body := do("DELETE", "/queues/never-existed", ""); st != http.StatusNoContent {
		t.Fatalf("delete missing queue: %d %s", st, body)
	}
	// Explicit DelaySeconds 0 overrides the queue's 60; absent takes it.
	do("POST", "/queues/slow/messages", "<Message><MessageBody>now</MessageBody><DelaySeconds>0</DelaySeconds><Priority>0</Priority></Message>")
	do("POST", "/queues/slow/messages", "<Message><MessageBody>later</MessageBody></Message>")
	s.mu.Lock()
	got := s.queues["slow"].peek(t0, 16)
	n := s.queues["slow"].stats(t0)
	s.mu.Unlock()
	if len(got) != 1 || got[0].Body != "now" || got[0].Priority != defaultPriority || n.Delayed != 1 {
		t.Fatalf("visible %+v, stats %+v; want only \"now\" at priority 8 and one delayed", got, n)
	}

	st, body := do("POST", "/queues/q/messages",
		"<Messages><Message><MessageBody>ok</MessageBody></Message><Message><MessageBody>x</MessageBody><Priority>99</Priority></Message></Messages>")
	if st != http.StatusInternalServerError || !strings.Contains(body, "<ErrorCode>InvalidArgument</ErrorCode>") ||
		!strings.Contains(body, "<MessageId>") {
		t.Fatalf("partial batch send: %d %s", st, body)
	}
	st, body = do("DELETE", "/queues/q/messages", "<ReceiptHandles><ReceiptHandle>1-OTktOTk=</ReceiptHandle></ReceiptHandles>")
	if st != http.StatusNotFound || !strings.Contains(body, "<Errors xmlns=") ||
		!strings.Contains(body, "<ErrorCode>MessageNotExist</ErrorCode>") || !strings.Contains(body, "<ReceiptHandle>1-OTktOTk=</ReceiptHandle>") {
		t.Fatalf("failed batch delete: %d %s", st, body)
	}
}
