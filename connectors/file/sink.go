package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferryhq/ferry/api"
)

// Sink is the file sink plugin.
var Sink = api.SinkPlugin{
	Name:    "file",
	Summary: "Appends events to a JSON Lines file, one structured CloudEvent per line, fsynced on flush.",
	Spec:    sinkSpec,
	New:     newSink,
}

var sinkSpec = api.Spec{
	{Name: "path", Type: api.TypeString, Required: true,
		Description: "File to append to; parent directories are created."},
	{Name: "buffer.bytes", Type: api.TypeInt, Default: "1048576", Check: api.Range(1, 1<<30),
		Description: "Buffered bytes that trigger a write to the file (durability still waits for flush)."},
}

type sink struct {
	path  string
	limit int
	f     *os.File
	buf   []byte
}

func newSink(tc api.TaskConfig) (api.Sink, error) {
	return &sink{path: tc.Config.String("path"), limit: tc.Config.Int("buffer.bytes")}, nil
}

func (s *sink) Open(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	torn, err := endsTorn(s.path)
	if err != nil {
		f.Close()
		return fmt.Errorf("file sink: %w", err)
	}
	s.f = f
	s.buf = make([]byte, 0, s.limit+4096)
	if torn {
		s.buf = append(s.buf, '\n')
	}
	return nil
}

// endsTorn reports whether the file is non-empty and its last byte is not
// a newline.
func endsTorn(path string) (bool, error) {
	r, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer r.Close()
	st, err := r.Stat()
	if err != nil || st.Size() == 0 {
		return false, err
	}
	var last [1]byte
	if _, err := r.ReadAt(last[:], st.Size()-1); err != nil {
		return false, err
	}
	return last[0] != '\n', nil
}

func (s *sink) Write(ctx context.Context, records []api.Record) error {
	var bad api.RecordErrors
	for i := range records {
		out, err := records[i].Event.AppendJSON(s.buf)
		if err != nil {
			bad = append(bad, api.RecordError{Index: i, Err: api.Fatal(err)})
			continue
		}
		s.buf = append(out, '\n')
		if len(s.buf) >= s.limit {
			if err := s.drain(); err != nil {
				return err
			}
		}
	}
	if bad != nil {
		return &bad
	}
	return nil
}

// drain writes the buffer to the file. On a short write it keeps what was
// not written, so a later Flush retries exactly the rest.
func (s *sink) drain() error {
	n, err := s.f.Write(s.buf)
	s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	if err != nil {
		return api.Retryable(fmt.Errorf("file sink: write %s: %w", s.path, err))
	}
	return nil
}

func (s *sink) Flush(ctx context.Context) error {
	if len(s.buf) > 0 {
		if err := s.drain(); err != nil {
			return err
		}
	}
	if err := s.f.Sync(); err != nil {
		return api.Retryable(fmt.Errorf("file sink: fsync %s: %w", s.path, err))
	}
	return nil
}

// Close flushes what is buffered even when ctx is done: a local write is
// short, and records written now need not be redelivered.
func (s *sink) Close(ctx context.Context) error {
	if s.f == nil {
		return nil
	}
	err := s.Flush(ctx)
	if cerr := s.f.Close(); cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		err = errors.Join(err, cerr)
	}
	s.f = nil
	return err
}
