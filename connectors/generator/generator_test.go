package generator_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/generator"
)

func TestConformance(t *testing.T) {
	apitest.RunSource(t, apitest.SourceCase{
		Plugin:     generator.Source,
		Config:     map[string]string{"count": "100", "batch.size": "7"},
		Expect:     100,
		EndOfInput: true,
	})
}

func TestConformanceEndless(t *testing.T) {
	apitest.RunSource(t, apitest.SourceCase{
		Plugin: generator.Source,
		Config: map[string]string{"batch.size": "5"},
		Expect: 40,
	})
}

func open(t *testing.T, cfg map[string]string, task int, committed map[string]api.Position) api.Source {
	t.Helper()
	c, err := generator.Source.Spec.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := generator.Source.New(api.TaskConfig{Connector: "gen", Task: task, Tasks: task + 1, Config: c, Committed: committed})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	return src
}

func TestEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       map[string]string
		task      int
		committed map[string]api.Position
		wantFirst uint64
		wantN     int
	}{
		{"from zero", map[string]string{"count": "3"}, 0, nil, 0, 3},
		{"task two", map[string]string{"count": "2"}, 2, nil, 0, 2},
		{"resume", map[string]string{"count": "10"}, 1, map[string]api.Position{"task-1": api.Position("6")}, 7, 3},
		{"other partition ignored", map[string]string{"count": "2"}, 0, map[string]api.Position{"task-1": api.Position("6")}, 0, 2},
		{"resume at end", map[string]string{"count": "5"}, 0, map[string]api.Position{"task-0": api.Position("4")}, 5, 0},
		{"big payload", map[string]string{"count": "1", "payload.bytes": "4096"}, 0, nil, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := open(t, tt.cfg, tt.task, tt.committed)
			var got []api.Record
			for {
				batch, err := src.Read(context.Background())
				if errors.Is(err, api.ErrEndOfInput) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, batch...)
			}
			if len(got) != tt.wantN {
				t.Fatalf("got %d records, want %d", len(got), tt.wantN)
			}
			for i, r := range got {
				seq := tt.wantFirst + uint64(i)
				var data struct {
					Seq     uint64 `json:"seq"`
					Task    int    `json:"task"`
					Payload string `json:"payload"`
				}
				if err := json.Unmarshal(r.Event.Data, &data); err != nil {
					t.Fatalf("data %s: %v", r.Event.Data, err)
				}
				wantID := "gen-" + itoa(tt.task) + "-" + utoa(seq)
				switch {
				case r.Event.ID != wantID:
					t.Errorf("id %q, want %q", r.Event.ID, wantID)
				case string(r.Position) != utoa(seq):
					t.Errorf("position %q, want %d", r.Position, seq)
				case r.Partition != "task-"+itoa(tt.task):
					t.Errorf("partition %q", r.Partition)
				case data.Seq != seq || data.Task != tt.task:
					t.Errorf("data %s", r.Event.Data)
				case r.Event.Type != generator.Type || r.Event.Source != "/ferry/generator/gen":
					t.Errorf("type %q source %q", r.Event.Type, r.Event.Source)
				}
				if want := tt.cfg["payload.bytes"]; want == "4096" && (len(r.Event.Data) < 4000 || len(r.Event.Data) > 4200) {
					t.Errorf("data is %d bytes, want about 4096", len(r.Event.Data))
				}
			}
		})
	}
}

// TestRecordsIndependent checks that records carved from one slab do not
// overlap: appending to one record's data must not change its neighbour.
func TestRecordsIndependent(t *testing.T) {
	t.Parallel()
	src := open(t, map[string]string{"count": "2"}, 0, nil)
	batch, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before := string(batch[1].Event.Data)
	_ = append(batch[0].Event.Data, "XXXXXXXX"...)
	_ = append(batch[0].Position, "XXXXXXXX"...)
	if string(batch[1].Event.Data) != before {
		t.Fatalf("appending to record 0 changed record 1: %s", batch[1].Event.Data)
	}
}

func TestRate(t *testing.T) {
	t.Parallel()
	src := open(t, map[string]string{"rate": "200", "batch.size": "1000"}, 0, nil)
	start := time.Now()
	n := 0
	for n < 60 {
		batch, err := src.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(batch)
	}
	// 60 events at 200/s take about 300ms; the first is due at once.
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("60 events at 200/s took %v", d)
	}
}

func TestRateWaitHonoursCancel(t *testing.T) {
	t.Parallel()
	src := open(t, map[string]string{"rate": "0.01"}, 0, nil)
	if _, err := src.Read(context.Background()); err != nil {
		t.Fatal(err) // the first event is due at once
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := src.Read(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("Read = %v after %v; want a prompt deadline error", err, time.Since(start))
	}
}

func TestBadCommittedPosition(t *testing.T) {
	t.Parallel()
	c, _ := generator.Source.Spec.Parse(nil)
	_, err := generator.Source.New(api.TaskConfig{Connector: "gen", Config: c,
		Committed: map[string]api.Position{"task-0": api.Position("x")}})
	if !api.IsFatal(err) {
		t.Fatalf("New with a bad position = %v; want a fatal error", err)
	}
}

func TestSpecRejects(t *testing.T) {
	t.Parallel()
	for _, cfg := range []map[string]string{
		{"count": "-1"}, {"rate": "fast"}, {"batch.size": "0"}, {"payload.bytes": "-5"},
	} {
		if _, err := generator.Source.Spec.Parse(cfg); err == nil {
			t.Errorf("Parse(%v) accepted", cfg)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func utoa(u uint64) string { return strconv.FormatUint(u, 10) }

// BenchmarkRead measures the hot path of the throughput benchmark: 1 KiB
// events in batches of 1024.
func BenchmarkRead(b *testing.B) {
	for _, size := range []string{"64", "1024"} {
		b.Run("payload="+size, func(b *testing.B) {
			c, _ := generator.Source.Spec.Parse(map[string]string{"payload.bytes": size})
			src, _ := generator.Source.New(api.TaskConfig{Connector: "bench", Config: c})
			_ = src.Open(context.Background())
			ctx := context.Background()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				batch, err := src.Read(ctx)
				if err != nil {
					b.Fatal(err)
				}
				n += len(batch)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(n)/float64(b.N), "events/op")
		})
	}
}

func TestDocumentsSpec(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "doc.go", generator.Source.Spec)
}

func TestRecords(t *testing.T) {
	t.Parallel()
	recs, err := generator.Records(2500, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2500 || recs[0].Event.Type != generator.Type || recs[2499].Event.ID == recs[0].Event.ID {
		t.Fatalf("%d records, first %+v", len(recs), recs[0].Event)
	}
	for _, n := range []int{0, -1} {
		if _, err := generator.Records(n, 10); err == nil {
			t.Errorf("Records(%d) accepted", n)
		}
	}
	if _, err := generator.Records(1, 1<<40); err == nil {
		t.Error("Records with a payload beyond payload.bytes' bound accepted")
	}
}
