package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/client"
	"github.com/ferryhq/ferry/runtime/trace"
)

func TestTracesQuery(t *testing.T) {
	t.Parallel()
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.String()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"traces": [{"event_id": "e-1", "outcome": "dropped", "steps": [{"stage": "transform", "name": "keep", "decision": "dropped"}]}], "unreached": ["w2"]}`))
	}))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	info, err := c.Traces(context.Background(), "a b", trace.Filter{EventID: "e&1", Since: since, Outcome: trace.Dropped, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if want := "/connectors/a%20b/traces?event_id=e%261&limit=5&outcome=dropped&since=2026-12-06T18%3A00%3A00Z"; got != want {
		t.Errorf("asked %s, want %s", got, want)
	}
	if len(info.Traces) != 1 || info.Traces[0].Steps[0].Name != "keep" || info.Unreached[0] != "w2" {
		t.Errorf("decoded %+v", info)
	}
}

func TestTapEndsWithTheStream(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/connectors/gone/tap" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error_code": 404, "message": "connector \"gone\": not found"}`))
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		_, _ = w.Write([]byte("{\"event_id\": \"a\", \"outcome\": \"delivered\"}\n\n{\"event_id\": \"b\", \"missed\": 3}\n"))
	}))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var got []trace.TapEvent
	err = c.Tap(context.Background(), "c", func(ev trace.TapEvent) error { got = append(got, ev); return nil })
	if !errors.Is(err, client.ErrStreamEnded) || len(got) != 2 || got[0].EventID != "a" || got[1].Missed != 3 {
		t.Errorf("Tap = %v with %+v", err, got)
	}
	stop := errors.New("enough")
	if err := c.Tap(context.Background(), "c", func(trace.TapEvent) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("fn's error: %v", err)
	}
	if err := c.Tap(context.Background(), "gone", func(trace.TapEvent) error { return nil }); !client.IsNotFound(err) {
		t.Errorf("unknown connector: %v", err)
	}
}

// TestTapStoppedMidLine: when the caller's ctx ends while an event's line
// is half read, Tap returns nil (the caller stopped), not a decode error
// of the half line.
func TestTapStoppedMidLine(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		_, _ = w.Write([]byte("{\"event_id\": \"a\"}\n{\"event_id\": \"b\", \"outc"))
		w.(http.Flusher).Flush()
		<-release
	}))
	defer srv.Close()
	defer close(release)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var got []trace.TapEvent
	fn := func(ev trace.TapEvent) error {
		got = append(got, ev)
		cancel() // the caller stops while the second line is half sent
		return nil
	}
	if err := c.Tap(ctx, "c", fn); err != nil {
		t.Errorf("Tap after the caller stopped mid-line = %v, want nil", err)
	}
	if len(got) != 1 || got[0].EventID != "a" {
		t.Errorf("events %+v, want the whole first one", got)
	}
}
