package api

import (
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
