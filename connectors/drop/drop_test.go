package drop_test

import (
	"context"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/drop"
)

func TestConformance(t *testing.T) {
	drop.Reset(apitest.Connector)
	apitest.RunSink(t, apitest.SinkCase{Plugin: drop.Sink})
	// The kit writes 25 records before and 25 after a restart.
	if got := drop.Count(apitest.Connector); got != 50 {
		t.Errorf("Count = %d after the kit wrote 50 records", got)
	}
}

func TestCountPerConnector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		connector string
		batches   []int
	}{
		{"drop-a", []int{3, 0, 5}},
		{"drop-b", []int{1}},
		{"drop-c", nil},
	}
	for _, tt := range tests {
		t.Run(tt.connector, func(t *testing.T) {
			t.Parallel()
			drop.Reset(tt.connector) // counts outlive a test run under -count
			// Two tasks of one connector add to one count.
			var sinks []api.Sink
			for task := range 2 {
				s, err := drop.Sink.New(api.TaskConfig{Connector: tt.connector, Task: task})
				if err != nil {
					t.Fatal(err)
				}
				sinks = append(sinks, s)
			}
			want := int64(0)
			for i, n := range tt.batches {
				if err := sinks[i%2].Write(context.Background(), apitest.Records("r", n)); err != nil {
					t.Fatal(err)
				}
				want += int64(n)
			}
			if got := drop.Count(tt.connector); got != want {
				t.Errorf("Count = %d, want %d", got, want)
			}
		})
	}
}
