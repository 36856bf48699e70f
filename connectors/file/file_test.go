package file_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/file"
)

// inputLines mixes structured CloudEvents, plain objects and blank lines.
func inputLines(n int) string {
	var b strings.Builder
	for i := range n {
		if i%3 == 0 {
			b.WriteString(`{"specversion":"1.0","id":"ce-` + strconv.Itoa(i) + `","source":"/test","type":"t","data":{"i":` + strconv.Itoa(i) + "}}\n")
		} else {
			b.WriteString(`{"i":` + strconv.Itoa(i) + "}\n")
		}
		if i%10 == 0 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func TestSourceConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.jsonl")
	apitest.RunSource(t, apitest.SourceCase{
		Plugin:     file.Source,
		Config:     map[string]string{"path": path, "batch.size": "7"},
		Prepare:    func(t testing.TB) { write(t, path, inputLines(60)) },
		Expect:     60,
		EndOfInput: true,
	})
}

func TestSourceConformanceFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.jsonl")
	apitest.RunSource(t, apitest.SourceCase{
		Plugin:  file.Source,
		Config:  map[string]string{"path": path, "follow": "true", "poll.interval": "20ms", "batch.size": "4"},
		Prepare: func(t testing.TB) { write(t, path, inputLines(30)) },
		Expect:  30,
	})
}

func TestSinkConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "out.jsonl")
	apitest.RunSink(t, apitest.SinkCase{
		Plugin:   file.Sink,
		Config:   map[string]string{"path": path, "buffer.bytes": "256"},
		ReadBack: func(t testing.TB) []api.Event { return readEvents(t, path) },
	})
}

func write(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func readEvents(t testing.TB, path string) []api.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []api.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e api.Event
		if err := e.UnmarshalJSON(sc.Bytes()); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func newSource(t *testing.T, cfg map[string]string, committed map[string]api.Position) api.Source {
	t.Helper()
	c, err := file.Source.Spec.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := file.Source.New(api.TaskConfig{Connector: "c", Config: c, Committed: committed})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// readAll reads until end of input or an error and returns what it got.
func readAll(t *testing.T, src api.Source) ([]api.Record, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []api.Record
	for {
		batch, err := src.Read(ctx)
		out = append(out, batch...)
		if err != nil {
			return out, err
		}
	}
}

func TestSourceLines(t *testing.T) {
	t.Parallel()
	long := `{"k":"` + strings.Repeat("x", 100) + `"}`
	tests := []struct {
		name      string
		content   string
		cfg       map[string]string
		committed string
		wantData  []string // data of each record
		wantPos   []string
		wantErr   string // substring of the final error; "" = end of input
	}{
		{name: "plain", content: "{\"a\":1}\n{\"a\":2}\n",
			wantData: []string{`{"a":1}`, `{"a":2}`}, wantPos: []string{"8", "16"}},
		{name: "unterminated last line", content: "{\"a\":1}\n{\"a\":2}",
			wantData: []string{`{"a":1}`, `{"a":2}`}, wantPos: []string{"8", "15"}},
		{name: "resume", content: "{\"a\":1}\n{\"a\":2}\n", committed: "8",
			wantData: []string{`{"a":2}`}, wantPos: []string{"16"}},
		{name: "resume at end", content: "{\"a\":1}\n", committed: "8"},
		{name: "blank lines", content: "\n\n{\"a\":1}\n\n", wantData: []string{`{"a":1}`}, wantPos: []string{"10"}},
		{name: "malformed fails with line and offset", content: "{\"a\":1}\nnope\n{\"a\":3}\n",
			wantData: []string{`{"a":1}`}, wantPos: []string{"8"}, wantErr: "line 2 (byte offset 8)"},
		{name: "malformed after resume names its line", content: "{\"a\":1}\n{\"a\":2}\n[3]\n", committed: "8",
			wantData: []string{`{"a":2}`}, wantPos: []string{"16"}, wantErr: "line 3 (byte offset 16)"},
		{name: "skip invalid", content: "{\"a\":1}\nnope\n{\"a\":3}\n", cfg: map[string]string{"skip.invalid": "true"},
			wantData: []string{`{"a":1}`, `{"a":3}`}, wantPos: []string{"8", "21"}},
		{name: "too long fails", content: "{\"a\":1}\n" + long + "\n", cfg: map[string]string{"max.line.bytes": "50"},
			wantData: []string{`{"a":1}`}, wantPos: []string{"8"}, wantErr: "exceeds max.line.bytes"},
		{name: "too long skipped", content: long + "\n{\"a\":2}\n" + long, cfg: map[string]string{"max.line.bytes": "50", "skip.invalid": "true"},
			wantData: []string{`{"a":2}`}, wantPos: []string{strconv.Itoa(len(long) + 9)}},
		{name: "committed past end", content: "{\"a\":1}\n", committed: "99", wantErr: "not a byte offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "in.jsonl")
			write(t, path, tt.content)
			cfg := map[string]string{"path": path}
			for k, v := range tt.cfg {
				cfg[k] = v
			}
			var committed map[string]api.Position
			if tt.committed != "" {
				committed = map[string]api.Position{path: api.Position(tt.committed)}
			}
			src := newSource(t, cfg, committed)
			var recs []api.Record
			err := src.Open(context.Background())
			if err == nil {
				recs, err = readAll(t, src)
				_ = src.Close(context.Background())
			}
			if tt.wantErr == "" && !errors.Is(err, api.ErrEndOfInput) {
				t.Fatalf("err = %v, want end of input", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !api.IsFatal(err)) {
				t.Fatalf("err = %v, want a fatal error containing %q", err, tt.wantErr)
			}
			if len(recs) != len(tt.wantData) {
				t.Fatalf("got %d records, want %d", len(recs), len(tt.wantData))
			}
			for i, r := range recs {
				if string(r.Event.Data) != tt.wantData[i] || string(r.Position) != tt.wantPos[i] || r.Partition != path {
					t.Errorf("record %d: data %s position %s partition %s; want %s %s", i, r.Event.Data, r.Position, r.Partition, tt.wantData[i], tt.wantPos[i])
				}
			}
		})
	}
}

func TestSourceFollow(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "later.jsonl")
	src := newSource(t, map[string]string{"path": path, "follow": "true", "poll.interval": "10ms"}, nil)
	if err := src.Open(context.Background()); err != nil {
		t.Fatalf("Open before the file exists: %v", err)
	}
	defer src.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// A line written in two parts is delivered once, whole.
	go func() {
		time.Sleep(30 * time.Millisecond)
		appendFile(t, path, `{"a":`)
		time.Sleep(30 * time.Millisecond)
		appendFile(t, path, "1}\n")
	}()
	batch, err := src.Read(ctx)
	if err != nil || len(batch) != 1 || string(batch[0].Event.Data) != `{"a":1}` || string(batch[0].Position) != "8" {
		t.Fatalf("Read = %v, %v", batch, err)
	}

	// Truncation is detected rather than read from a wrong offset.
	write(t, path, "")
	_, err = src.Read(ctx)
	if !api.IsFatal(err) || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("Read after truncation = %v; want a fatal truncation error", err)
	}
}

func TestSourceMissingFile(t *testing.T) {
	t.Parallel()
	src := newSource(t, map[string]string{"path": filepath.Join(t.TempDir(), "none")}, nil)
	if err := src.Open(context.Background()); !errors.Is(err, os.ErrNotExist) || !api.IsFatal(err) {
		t.Fatalf("Open of a missing file without follow = %v", err)
	}
}

func openSink(t *testing.T, path string) api.Sink {
	t.Helper()
	c, err := file.Sink.Spec.Parse(map[string]string{"path": path})
	if err != nil {
		t.Fatal(err)
	}
	s, err := file.Sink.New(api.TaskConfig{Connector: "c", Config: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSinkRepairsTornLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	write(t, path, `{"specversion":"1.0","id":"torn`)
	s := openSink(t, path)
	recs := apitest.Records("r", 2)
	if err := s.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], `"id":"r-0"`) {
		t.Fatalf("file after repair:\n%s", b)
	}
}

func TestSinkRejectsOnlyBadRecords(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s := openSink(t, path)
	defer s.Close(context.Background())
	recs := apitest.Records("r", 3)
	recs[1].Event.Data = []byte("not json")
	err := s.Write(context.Background(), recs)
	var re *api.RecordErrors
	if !errors.As(err, &re) || len(*re) != 1 || (*re)[0].Index != 1 {
		t.Fatalf("Write = %v; want RecordErrors naming record 1", err)
	}
	if err := s.(api.Flusher).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := readEvents(t, path)
	if len(got) != 2 || got[0].ID != "r-0" || got[1].ID != "r-2" {
		t.Fatalf("file holds %v", got)
	}
}

// TestSinkSourceRoundTrip checks that what the sink writes the source
// reads back as the same events.
func TestSinkSourceRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rt.jsonl")
	s := openSink(t, path)
	want := apitest.Records("rt", 5)
	if err := s.Write(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	src := newSource(t, map[string]string{"path": path}, nil)
	if err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer src.Close(context.Background())
	got, err := readAll(t, src)
	if !errors.Is(err, api.ErrEndOfInput) || len(got) != len(want) {
		t.Fatalf("read %d records, %v", len(got), err)
	}
	for i := range got {
		g, w := got[i].Event, want[i].Event
		if g.ID != w.ID || g.Source != w.Source || g.Type != w.Type || !g.Time.Equal(w.Time) || string(g.Data) != string(w.Data) {
			t.Errorf("record %d: got %+v, want %+v", i, g, w)
		}
	}
}

// BenchmarkSinkWrite measures encoding and buffered writing of 1 KiB
// events in batches of 1024, with and without an fsync per batch.
func BenchmarkSinkWrite(b *testing.B) {
	for _, flush := range []bool{false, true} {
		b.Run("flush="+strconv.FormatBool(flush), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench.jsonl")
			c, _ := file.Sink.Spec.Parse(map[string]string{"path": path})
			s, _ := file.Sink.New(api.TaskConfig{Connector: "bench", Config: c})
			if err := s.Open(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			recs := apitest.Records("bench", 1024)
			payload := `{"payload":"` + strings.Repeat("x", 1000) + `"}`
			for i := range recs {
				recs[i].Event.Data = []byte(payload)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(len(recs) * (len(payload) + 150)))
			for b.Loop() {
				if err := s.Write(ctx, recs); err != nil {
					b.Fatal(err)
				}
				if flush {
					if err := s.(api.Flusher).Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func TestDocumentsSpec(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "doc.go", file.Sink.Spec)
	apitest.CheckSpecDoc(t, "doc.go", file.Source.Spec)
}
