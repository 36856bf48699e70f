package runtime_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
)

func pos(n int) api.Position { return api.Position(strconv.Itoa(n)) }

func TestWatermark(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		track  []string // partition of each record, positions numbered per partition from 0
		acks   []int    // record indexes acknowledged, in order
		safe   map[string]string
		pendng int
	}{
		{"nothing acked", []string{"a", "a"}, nil, map[string]string{"a": ""}, 2},
		{"in order", []string{"a", "a", "a"}, []int{0, 1}, map[string]string{"a": "1"}, 1},
		{"gap holds back", []string{"a", "a", "a"}, []int{1, 2}, map[string]string{"a": ""}, 1},
		{"gap filled", []string{"a", "a", "a"}, []int{2, 1, 0}, map[string]string{"a": "2"}, 0},
		{"partitions independent", []string{"a", "b", "a", "b"}, []int{1, 3, 2}, map[string]string{"a": "", "b": "1"}, 1},
		{"double ack ignored", []string{"a", "a"}, []int{0, 0}, map[string]string{"a": "0"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := runtime.NewWatermark()
			count := map[string]int{}
			marks := make([]runtime.Mark, len(tc.track))
			for i, p := range tc.track {
				marks[i] = w.Track(p, pos(count[p]))
				count[p]++
			}
			for _, i := range tc.acks {
				w.Ack(marks[i])
			}
			for p, want := range tc.safe {
				if got := string(w.Safe(p)); got != want {
					t.Errorf("Safe(%q) = %q, want %q", p, got, want)
				}
			}
			if w.Pending() != tc.pendng {
				t.Errorf("Pending() = %d, want %d", w.Pending(), tc.pendng)
			}
		})
	}
}

func TestWatermarkNilPositionDoesNotBlock(t *testing.T) {
	t.Parallel()
	w := runtime.NewWatermark()
	m0 := w.Track("a", pos(0))
	m1 := w.Track("a", nil)
	m2 := w.Track("a", pos(2))
	w.Ack(m1)
	w.Ack(m0)
	if got := string(w.Safe("a")); got != "0" {
		t.Fatalf("safe = %q, want 0", got)
	}
	w.Ack(m2)
	if got := string(w.Safe("a")); got != "2" {
		t.Fatalf("safe = %q, want 2", got)
	}
}

func TestWatermarkUncommitted(t *testing.T) {
	t.Parallel()
	w := runtime.NewWatermark()
	a0, b0 := w.Track("a", pos(0)), w.Track("b", pos(0))
	if c := w.Uncommitted(); c.Offsets != nil {
		t.Fatalf("nothing acked yet, got %v", c.Offsets)
	}
	w.Ack(a0)
	c := w.Uncommitted()
	if len(c.Offsets) != 1 || string(c.Offsets["a"]) != "0" {
		t.Fatalf("Uncommitted = %v", c.Offsets)
	}
	// The commit is in flight while b advances; only a is marked committed.
	w.Ack(b0)
	w.Committed(c)
	c2 := w.Uncommitted()
	if len(c2.Offsets) != 1 || string(c2.Offsets["b"]) != "0" {
		t.Fatalf("after commit of a: %v", c2.Offsets)
	}
	// A failed commit is simply not confirmed: the positions stay reported.
	if c3 := w.Uncommitted(); len(c3.Offsets) != 1 {
		t.Fatalf("unconfirmed commit lost: %v", c3.Offsets)
	}
}

// checkModel acks records of several partitions in a random order and
// compares the watermark with the definition: the safe position is the
// newest one whose every predecessor in its partition is acknowledged.
func checkModel(t *testing.T, seed uint64, n, parts int) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := runtime.NewWatermark()
	type rec struct {
		part string
		idx  int
		mark runtime.Mark
	}
	recs := make([]rec, n)
	next := map[string]int{}
	for i := range recs {
		p := fmt.Sprintf("p%d", r.IntN(parts))
		recs[i] = rec{part: p, idx: next[p], mark: w.Track(p, pos(next[p]))}
		next[p]++
	}
	acked := map[string][]bool{}
	for p, c := range next {
		acked[p] = make([]bool, c)
	}
	order := r.Perm(n)
	for step, i := range order {
		w.Ack(recs[i].mark)
		acked[recs[i].part][recs[i].idx] = true
		if step%7 != 0 && step != n-1 {
			continue
		}
		for p, a := range acked {
			want := ""
			for k := 0; k < len(a) && a[k]; k++ {
				want = strconv.Itoa(k)
			}
			if got := string(w.Safe(p)); got != want {
				t.Fatalf("seed %d step %d: Safe(%s) = %q, want %q", seed, step, p, got, want)
			}
		}
	}
	if w.Pending() != 0 {
		t.Fatalf("pending = %d after acking all", w.Pending())
	}
}

func TestWatermarkModel(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 200; seed++ {
		checkModel(t, seed, 3000, 1+int(seed%4))
	}
}

func FuzzWatermark(f *testing.F) {
	f.Add(uint64(1), uint16(100), uint8(2))
	f.Add(uint64(42), uint16(5000), uint8(1))
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, parts uint8) {
		checkModel(t, seed, int(n%8000)+1, int(parts%8)+1)
	})
}

func BenchmarkWatermarkTrackAck(b *testing.B) {
	w := runtime.NewWatermark()
	p := api.Position("12345")
	marks := make([]runtime.Mark, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i += len(marks) {
		for j := range marks {
			marks[j] = w.Track("task-0", p)
		}
		for j := range marks {
			w.Ack(marks[j])
		}
	}
}
