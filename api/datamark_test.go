package api

import (
	"slices"
	"strings"
	"testing"
)

// TestMarkDataJSON: marked data is not validated again by AppendJSON, and
// the mark is void as soon as Data is another slice.
func TestMarkDataJSON(t *testing.T) {
	t.Parallel()
	// Not JSON, so AppendJSON tells a trusted mark from a check.
	bad := []byte(`{"a":`)
	e := Event{ID: "1", Source: "/s", Type: "t", Data: bad}
	if _, err := e.AppendJSON(nil); err == nil {
		t.Fatal("unmarked invalid data encoded")
	}
	e.MarkDataJSON()
	if !e.DataMarkedJSON() {
		t.Fatal("mark not seen")
	}
	out, err := e.AppendJSON(nil)
	if err != nil || !strings.Contains(string(out), `"data":{"a":}`) {
		t.Fatalf("marked data validated again: %s, %v", out, err)
	}
	copied := e // a copy shares Data, and the mark with it
	if !copied.DataMarkedJSON() {
		t.Fatal("a copy sharing Data lost the mark")
	}
	for name, change := range map[string]func(*Event){
		"same bytes, another array": func(e *Event) { e.Data = append([]byte(nil), e.Data...) },
		"shorter":                   func(e *Event) { e.Data = e.Data[:len(e.Data)-1] },
		"longer":                    func(e *Event) { e.Data = append(e.Data[:len(e.Data):len(e.Data)], ' ') },
		"cleared":                   func(e *Event) { e.ClearDataJSON() },
		"decoded over": func(e *Event) {
			_ = e.UnmarshalJSON([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{}}`))
		},
	} {
		c := e
		change(&c)
		if c.DataMarkedJSON() {
			t.Errorf("%s: the mark outlived the data it was made for", name)
		}
	}
	var empty Event
	empty.MarkDataJSON()
	if empty.DataMarkedJSON() {
		t.Error("empty data marked")
	}
}

// TestAppendJSONExtensionOrder: an event of several extensions encodes to
// the same bytes every time, its extensions in name order (a map's own
// order changes between iterations), and with at most four of them the
// encoding allocates nothing of its own. Not parallel: it counts
// allocations.
func TestAppendJSONExtensionOrder(t *testing.T) {
	ev := Event{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "t",
		Extensions: map[string]any{"zeta": "z", "alpha": "a", "mid": int64(3), "beta": true, "omega": "o", "kappa": "k"}}
	want := `{"specversion":"1.0","id":"1","source":"/s","type":"t","alpha":"a","beta":true,"kappa":"k","mid":3,"omega":"o","zeta":"z"}`
	for range 50 {
		got, err := ev.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("AppendJSON =\n%s\nwant\n%s", got, want)
		}
	}
	four := ev
	four.Extensions = map[string]any{"zeta": "z", "alpha": "a", "mid": int64(3), "beta": true}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf, _ = four.AppendJSON(buf[:0]) }); n > 0 {
		t.Errorf("AppendJSON allocates %.0f times for four extensions", n)
	}
	got := ev.SortedExtensions([]Extension{{"first", 0}})
	want2 := []Extension{{"first", 0}, {"alpha", "a"}, {"beta", true}, {"kappa", "k"}, {"mid", int64(3)}, {"omega", "o"}, {"zeta", "z"}}
	if !slices.Equal(got, want2) {
		t.Errorf("SortedExtensions = %v: want them appended in name order after what was there", got)
	}
}

// BenchmarkAppendJSON encodes the 1 KB structured event of the decoding
// benchmarks (two extensions) into a reused buffer.
func BenchmarkAppendJSON(b *testing.B) {
	var ev Event
	if err := ev.UnmarshalJSON(event1K); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = ev.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
