package worker_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/workertest"
)

// lagSource reads nothing and reports a fixed lag.
type lagSource struct{}

func (lagSource) Open(context.Context) error { return nil }
func (lagSource) Read(ctx context.Context) ([]api.Record, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (lagSource) Close(context.Context) error   { return nil }
func (lagSource) Lag() map[string]int64         { return map[string]int64{"orders-0": 42, "orders-1": 0} }
func (lagDropSink) Open(context.Context) error  { return nil }
func (lagDropSink) Close(context.Context) error { return nil }
func (lagDropSink) Write(context.Context, []api.Record) error {
	return nil
}

type lagDropSink struct{}

// TestTaskStatusShowsLag: a running task whose source reports its lag
// shows it in its status; one whose source does not has none.
func TestTaskStatusShowsLag(t *testing.T) {
	t.Parallel()
	reg := worker.Registry{
		Sources: []api.SourcePlugin{
			{Name: "lagging", New: func(api.TaskConfig) (api.Source, error) { return lagSource{}, nil }},
			{Name: "plain", New: func(api.TaskConfig) (api.Source, error) { return &workertest.TickSource{}, nil }},
		},
		Sinks: []api.SinkPlugin{{Name: "drop", New: func(api.TaskConfig) (api.Sink, error) { return lagDropSink{}, nil }}},
	}
	w, err := worker.New(worker.Config{WorkerID: "w", Store: state.NewMemory(), Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for _, name := range []string{"lagging", "plain"} {
		if _, err := w.CreateConnector(ctx, name, map[string]string{"source": name, "sink": "drop"}, state.TargetRunning); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := w.TaskStatus(ctx, "lagging", 0) // ErrNotFound until planned
		if err == nil && st.State == "RUNNING" && st.Lag != nil {
			if st.Lag["orders-0"] != 42 || len(st.Lag) != 2 {
				t.Fatalf("lag %v, want orders-0:42 orders-1:0", st.Lag)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task status %+v (%v): no lag within 15s", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, err := w.TaskStatus(ctx, "plain", 0)
	for deadline := time.Now().Add(15 * time.Second); (err != nil || st.State != "RUNNING") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		st, err = w.TaskStatus(ctx, "plain", 0)
	}
	if err != nil || st.State != "RUNNING" {
		t.Fatalf("plain task: %+v, %v", st, err)
	}
	if st.Lag != nil {
		t.Errorf("a source without LagReporter shows lag %v", st.Lag)
	}
}
