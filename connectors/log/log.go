package log

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ferryhq/ferry/api"
)

// Sink is the log sink plugin, writing to the process's stdout or stderr.
var Sink = api.SinkPlugin{
	Name:    "log",
	Summary: "Prints each event as one CloudEvents JSON line on stdout.",
	Spec:    spec,
	New: func(tc api.TaskConfig) (api.Sink, error) {
		if tc.Config.String("stream") == "stderr" {
			return newSink(stderr), nil
		}
		return newSink(stdout), nil
	},
}

var spec = api.Spec{
	{Name: "stream", Type: api.TypeString, Default: "stdout", Enum: []string{"stdout", "stderr"},
		Description: "Where to print events."},
}

// Tasks of every log sink share the process's streams; one mutex per
// stream keeps their batches whole.
var (
	stdout = &lockedWriter{w: os.Stdout}
	stderr = &lockedWriter{w: os.Stderr}
)

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// SinkTo returns the log sink plugin writing to w instead of stdout. The
// sinks it creates serialise their writes to w.
func SinkTo(w io.Writer) api.SinkPlugin {
	p := Sink
	lw := &lockedWriter{w: w}
	p.New = func(api.TaskConfig) (api.Sink, error) { return newSink(lw), nil }
	return p
}

type sink struct {
	w   io.Writer
	buf []byte
}

func newSink(w io.Writer) *sink { return &sink{w: w} }

func (s *sink) Open(context.Context) error { return nil }

func (s *sink) Write(_ context.Context, records []api.Record) error {
	s.buf = s.buf[:0]
	var bad api.RecordErrors
	for i := range records {
		out, err := records[i].Event.AppendJSON(s.buf)
		if err != nil {
			bad = append(bad, api.RecordError{Index: i, Err: api.Fatal(err)})
			continue
		}
		s.buf = append(out, '\n')
	}
	if len(s.buf) > 0 {
		if _, err := s.w.Write(s.buf); err != nil {
			return fmt.Errorf("log sink: %w", err)
		}
	}
	if bad != nil {
		return &bad
	}
	return nil
}

func (s *sink) Close(context.Context) error { return nil }
