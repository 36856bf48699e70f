package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
	ferryworker "github.com/ferryhq/ferry/worker"
)

// TestKafkaSourceConflictNamesField: the worker refuses a kafka source
// with both topics and topics.regex, or neither, naming the field (the
// REST API answers 400 with it), before any broker is dialled.
func TestKafkaSourceConflictNamesField(t *testing.T) {
	t.Parallel()
	w, err := ferryworker.New(ferryworker.Config{WorkerID: "w", Store: state.NewMemory(), Registry: registry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		extra map[string]string
		field string
	}{
		{"both", map[string]string{"source.topics": "a", "source.topics.regex": "b.*"}, "source.topics.regex"},
		{"neither", nil, "source.topics"},
	} {
		cfg := map[string]string{"source": "kafka", "source.brokers": "127.0.0.1:1", "sink": "drop"}
		for k, v := range tc.extra {
			cfg[k] = v
		}
		_, err := w.CreateConnector(context.Background(), "k-"+tc.name, cfg, state.TargetRunning)
		var ve *api.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != tc.field {
			t.Errorf("%s: %v, want one field error on %s", tc.name, err, tc.field)
		}
	}
}
