package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/ferryhq/ferry/api"
)

// Source is the file source plugin.
var Source = api.SourcePlugin{
	Name:    "file",
	Summary: "Reads a JSON Lines file of CloudEvents or plain JSON objects, optionally following it like tail -f.",
	Spec:    sourceSpec,
	New:     newSource,
	// Tasks would all read the same file.
	Plan: func(api.Config, int) ([]map[string]string, error) { return []map[string]string{{}}, nil },
}

var sourceSpec = api.Spec{
	{Name: "path", Type: api.TypeString, Required: true,
		Description: "File to read; also the partition name."},
	{Name: "follow", Type: api.TypeBool, Default: "false",
		Description: "At end of file wait for more lines (like tail -f) instead of ending the input."},
	{Name: "poll.interval", Type: api.TypeDuration, Default: "200ms",
		Description: "How often a following source looks for new data."},
	{Name: "skip.invalid", Type: api.TypeBool, Default: "false",
		Description: "Log and skip malformed lines instead of failing the task."},
	{Name: "max.line.bytes", Type: api.TypeInt, Default: "4194304", Check: api.Range(16, 1<<30),
		Description: "Longest accepted line in bytes; longer lines are malformed."},
	{Name: "batch.size", Type: api.TypeInt, Default: "1024", Check: api.Range(1, 1<<20),
		Description: "Most records returned by one Read."},
}

// maxBatchBytes stops a batch early so huge lines do not pile up.
const maxBatchBytes = 16 << 20

type source struct {
	path     string
	follow   bool
	poll     time.Duration
	skip     bool
	maxLine  int
	batch    int
	log      *slog.Logger
	startOff int64

	f       *os.File
	r       *bufio.Reader
	off     int64  // offset just after the last complete line consumed
	partial []byte // bytes of the current line read so far
	cur     int64  // bytes of the current line consumed (kept in partial unless discarding)
	discard bool   // the current line is over maxLine and being skipped
	skipped int64
	failed  error // a malformed line met after a batch's first records
	last    int   // records in the previous batch: the next one's capacity
}

func newSource(tc api.TaskConfig) (api.Source, error) {
	c := tc.Config
	s := &source{
		path:    c.String("path"),
		follow:  c.Bool("follow"),
		poll:    c.Duration("poll.interval"),
		skip:    c.Bool("skip.invalid"),
		maxLine: c.Int("max.line.bytes"),
		batch:   c.Int("batch.size"),
		log:     tc.Logger,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.poll <= 0 {
		s.poll = 200 * time.Millisecond
	}
	if pos, ok := tc.Committed[s.path]; ok {
		off, err := strconv.ParseInt(string(pos), 10, 64)
		if err != nil || off < 0 {
			return nil, api.Fatal(fmt.Errorf("file source: %w: %q", errBadPosition, pos))
		}
		s.startOff = off
	}
	return s, nil
}

func (s *source) Open(ctx context.Context) error {
	err := s.openFile()
	if errors.Is(err, fs.ErrNotExist) && s.follow {
		return nil // Read waits for the file to appear
	}
	return err
}

// openFile opens the file and seeks to the start position.
func (s *source) openFile() error {
	f, err := os.Open(s.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if s.follow {
				return err // Read polls until it appears
			}
			return api.Fatal(fmt.Errorf("file source: %w (set follow=true to wait for it)", err))
		}
		return api.Retryable(fmt.Errorf("file source: %w", err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return api.Retryable(fmt.Errorf("file source: %w", err))
	}
	if s.startOff > st.Size() {
		f.Close()
		return api.Fatal(fmt.Errorf("file source: %s: %w: offset %d, size %d", s.path, errBadPosition, s.startOff, st.Size()))
	}
	if _, err := f.Seek(s.startOff, io.SeekStart); err != nil {
		f.Close()
		return api.Retryable(fmt.Errorf("file source: %w", err))
	}
	s.f, s.off = f, s.startOff
	s.r = bufio.NewReaderSize(f, 64<<10)
	return nil
}

// lineNumber returns the 1-based number of the line starting at off. It
// reads the file up to off, which is only worth it for an error message.
func (s *source) lineNumber(off int64) int64 {
	n, _ := countLines(io.NewSectionReader(s.f, 0, off))
	return n + 1
}

func countLines(r io.Reader) (int64, error) {
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (s *source) Close(ctx context.Context) error {
	if s.skipped > 0 {
		s.log.Warn("file source skipped malformed lines", "path", s.path, "count", s.skipped)
	}
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

func (s *source) Read(ctx context.Context) ([]api.Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.f == nil {
			err := s.openFile()
			if err != nil && (!s.follow || !errors.Is(err, fs.ErrNotExist)) {
				return nil, err
			}
		}
		if s.failed != nil {
			return nil, s.failed
		}
		if s.f != nil {
			recs, err := s.readBatch()
			if err != nil || len(recs) > 0 {
				return recs, err
			}
			if !s.follow {
				return nil, api.ErrEndOfInput
			}
			if err := s.checkTruncated(); err != nil {
				return nil, err
			}
		}
		t := time.NewTimer(s.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// checkTruncated fails when the followed file is now shorter than what
// was read: offsets would no longer mean what was committed.
func (s *source) checkTruncated() error {
	st, err := os.Stat(s.path)
	if err != nil {
		return api.Retryable(fmt.Errorf("file source: %w", err))
	}
	if read := s.off + s.cur; st.Size() < read {
		return api.Fatal(fmt.Errorf("file source: %s: %w: read %d bytes, size now %d", s.path, errTruncated, read, st.Size()))
	}
	return nil
}

// readBatch reads complete lines until the batch is full or the file ends.
//
// The batch's slice starts at the previous batch's length (appending from
// empty would allocate about twice the final slice), and its positions
// share one array.
func (s *source) readBatch() ([]api.Record, error) {
	recs := make([]api.Record, 0, min(s.batch, max(s.last, 16)))
	pos := make([]byte, 0, cap(recs)*8)
	defer func() { s.last = len(recs) }()
	bytesIn := 0
	for len(recs) < s.batch && bytesIn < maxBatchBytes {
		line, start, ok, err := s.nextLine()
		if err != nil {
			return recs, err
		}
		if !ok {
			break
		}
		ev, keep, err := decodeLine(s.path, start, line)
		if err == nil && keep {
			bytesIn += len(line)
			p := len(pos)
			pos = strconv.AppendInt(pos, s.off, 10)
			recs = append(recs, api.Record{
				Event:     ev,
				Partition: s.path,
				Position:  api.Position(pos[p:len(pos):len(pos)]),
			})
			continue
		}
		if err != nil {
			err = lineError(s.path, s.lineNumber(start), start, err)
			if !s.skip {
				// Hand out what came before the bad line first. No
				// position past the bad line is ever handed out, so a
				// restart meets it again.
				s.failed = api.Fatal(err)
				return recs, nil
			}
			s.skipped++
			s.log.Warn("file source: skipping malformed line", "err", err)
		}
	}
	return recs, nil
}

// nextLine returns the next complete line without its newline and the
// offset it starts at. ok is false when no complete line is available yet.
// The line is valid until the next call.
func (s *source) nextLine() (line []byte, start int64, ok bool, err error) {
	for {
		chunk, rerr := s.r.ReadSlice('\n')
		s.cur += int64(len(chunk))
		switch {
		case rerr == nil:
			chunk = chunk[:len(chunk)-1]
		case errors.Is(rerr, bufio.ErrBufferFull):
		case rerr == io.EOF:
			if s.follow || s.cur == 0 {
				// Keep a partial line: the writer may be mid-line.
				if !s.discard {
					s.partial = append(s.partial, chunk...)
				}
				return nil, 0, false, nil
			}
			// Without follow the input is complete, so an unterminated
			// last line is still a line.
		default:
			return nil, 0, false, api.Retryable(fmt.Errorf("file source: read %s: %w", s.path, rerr))
		}
		if !s.discard {
			if len(s.partial) > 0 || rerr != nil {
				s.partial = append(s.partial, chunk...)
				line = s.partial
			} else {
				line = chunk
			}
			if len(line) > s.maxLine {
				if !s.skip {
					return nil, 0, false, api.Fatal(lineError(s.path, s.lineNumber(s.off), s.off,
						fmt.Errorf("%w (%d)", errLineTooLong, s.maxLine)))
				}
				s.skipped++
				s.log.Warn("file source: skipping long line", "path", s.path, "offset", s.off)
				s.discard, s.partial = true, s.partial[:0]
			}
		}
		if errors.Is(rerr, bufio.ErrBufferFull) {
			continue
		}
		start = s.off
		s.off += s.cur
		s.cur = 0
		s.partial = s.partial[:0]
		if s.discard {
			s.discard = false
			continue
		}
		return line, start, true, nil
	}
}
