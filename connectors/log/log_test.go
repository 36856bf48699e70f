package log_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/log"
)

// syncBuffer is a bytes.Buffer safe for the kit's reads beside writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) events(t testing.TB) []api.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []api.Event
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var e api.Event
		if err := e.UnmarshalJSON(sc.Bytes()); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestConformance(t *testing.T) {
	var buf syncBuffer
	apitest.RunSink(t, apitest.SinkCase{
		Plugin:   log.SinkTo(&buf),
		ReadBack: buf.events,
	})
}

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		bad     []int // records given invalid JSON data
		wantIDs []string
	}{
		{"all good", nil, []string{"r-0", "r-1", "r-2"}},
		{"one bad", []int{1}, []string{"r-0", "r-2"}},
		{"all bad", []int{0, 1, 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf syncBuffer
			s, err := log.SinkTo(&buf).New(api.TaskConfig{})
			if err != nil {
				t.Fatal(err)
			}
			recs := apitest.Records("r", 3)
			for _, i := range tt.bad {
				recs[i].Event.Data = []byte("{")
			}
			err = s.Write(context.Background(), recs)
			var re *api.RecordErrors
			if len(tt.bad) == 0 && err != nil || len(tt.bad) > 0 && (!errors.As(err, &re) || len(*re) != len(tt.bad)) {
				t.Fatalf("Write = %v", err)
			}
			var ids []string
			for _, e := range buf.events(t) {
				ids = append(ids, e.ID)
			}
			if len(ids) != len(tt.wantIDs) {
				t.Fatalf("printed %v, want %v", ids, tt.wantIDs)
			}
			for i := range ids {
				if ids[i] != tt.wantIDs[i] {
					t.Fatalf("printed %v, want %v", ids, tt.wantIDs)
				}
			}
		})
	}
}

func TestStreamField(t *testing.T) {
	t.Parallel()
	if _, err := log.Sink.Spec.Parse(map[string]string{"stream": "stdlog"}); err == nil {
		t.Fatal("stream=stdlog accepted")
	}
	c, err := log.Sink.Spec.Parse(map[string]string{"stream": "stderr"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.Sink.New(api.TaskConfig{Config: c}); err != nil {
		t.Fatal(err)
	}
}

func TestDocumentsSpec(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "doc.go", log.Sink.Spec)
}
