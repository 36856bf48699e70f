package kafka

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
)

// changeEnvelope is a mysql-cdc change event's data (Debezium's
// envelope) of about 600 bytes, with op as the CDC sources write it.
func changeEnvelope(op string) []byte {
	return []byte(`{"before":{"id":42,"customer":"c-1042","status":"NEW","amount":"129.90","note":"` + strings.Repeat("n", 120) + `","created":"2024-05-01T12:34:56"},` +
		`"after":{"id":42,"customer":"c-1042","status":"PAID","amount":"129.90","note":"` + strings.Repeat("n", 120) + `","created":"2024-05-01T12:34:56"},` +
		`"source":{"version":"ferry","connector":"mysql","name":"shop","ts_ms":1714566896000,"snapshot":"false","db":"shop","table":"orders",` +
		`"server_id":1,"file":"mysql-bin.000003","pos":123456,"row":0,"gtid":null},"op":"` + op + `","ts_ms":1714566896123}`)
}

func newTestEncoder(t testing.TB, kv ...string) *encoder {
	t.Helper()
	raw := map[string]string{"brokers": "127.0.0.1:9092", "topic": "t"}
	for i := 0; i+1 < len(kv); i += 2 {
		raw[kv[i]] = kv[i+1]
	}
	c, err := sinkSpec.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEncoder(c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// parsedIsDelete is isDelete as it was decided before the
// trailing-member shortcut, by the JSONPath alone: the oracle.
func (e *encoder) parsedIsDelete(ev *api.Event) bool {
	if len(ev.Data) == 0 || (ev.DataContentType != "" && !api.IsJSONContentType(ev.DataContentType)) ||
		!bytes.Contains(ev.Data, []byte(`"op"`)) {
		return false
	}
	out, err := e.op.Render(ev, nil)
	return err == nil && string(out) == "d"
}

func TestIsDelete(t *testing.T) {
	t.Parallel()
	e := newTestEncoder(t)
	for _, tc := range []struct {
		name string
		data string
		ct   string
		want bool
	}{
		{"CDC delete", string(changeEnvelope("d")), "application/json", true},
		{"CDC insert", string(changeEnvelope("c")), "", false},
		{"op last", `{"before":{"id":1},"after":null,"op":"d"}`, "", true},
		{"op first of plain members", `{"op":"d","ts_ms":1,"x":true,"y":null,"z":-1.5e3}`, "", true},
		{"spaces", " {\n \"op\" : \"d\" ,\t\"ts_ms\" : 1 } ", "", true},
		{"op behind a nested value", `{"op":"d","after":{"op":"c"}}`, "", true},
		{"nested op only", `{"after":{"op":"d"},"ts_ms":1}`, "", false},
		{"op in a string", `{"note":"\"op\":\"d\"","ts_ms":1}`, "", false},
		{"op in a string sharing a quote with the key", `{"x":"\"op","op":"d"}`, "", true},
		{"op at the very end", `"op"`, "", false},
		{"escaped quote before op", `{"a":"x\\\"","op":"d"}`, "", true},
		{"escaped backslash before op", `{"a":"x\\\\","op":"d"}`, "", true},
		{"escaped key (never taken for op)", `{"\u006fp":"d"}`, "", false},
		{"escaped key before op", `{"\u006fp":"c","op":"d"}`, "", false},
		{"repeated op: the first counts", `{"op":"c","op":"d"}`, "", false},
		{"repeated op, first d", `{"op":"d","op":"c"}`, "", true},
		{"op not a string", `{"op":1}`, "", false},
		{"escaped d", `{"op":"\u0064"}`, "", true},
		{"not an object", `["op","d"]`, "", false},
		{"empty object", `{}`, "", false},
		{"text data", `{"op":"d"}`, "text/plain", false},
		{"no data", ``, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := &api.Event{DataContentType: tc.ct, Data: []byte(tc.data)}
			if got := e.isDelete(ev); got != tc.want {
				t.Fatalf("isDelete(%s) = %v, want %v", tc.data, got, tc.want)
			}
			if got := e.parsedIsDelete(ev); got != tc.want {
				t.Fatalf("the JSONPath says %v for %s, the table %v", got, tc.data, tc.want)
			}
		})
	}
}

// FuzzIsDelete holds the trailing-member shortcut to the JSONPath on
// valid JSON (the only data it is used on), and makes sure it never
// panics on data that is not (a source that marked its data wrongly).
func FuzzIsDelete(f *testing.F) {
	for _, s := range []string{string(changeEnvelope("d")), `"op":"d"}`, `{"op":"d"}`[2:], `a"}`, `a":"d"}`, `{"op":"d","after":{"op":"c"}}`, `{"a":"x\\\"","op":"d"}`,
		`{"\u006fp":"d","op":"c"}`, `{"op":"c","op":"d"}`, `{"op":"d", "n": 1e5 }`, `{"x":[1,{"op":"d"}],"op" :"d"}`} {
		f.Add([]byte(s))
	}
	e := newTestEncoder(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		trailingMember(data, `"op"`)
		if !api.ValidJSON(data) {
			return
		}
		ev := &api.Event{Data: data}
		if got, want := e.isDelete(ev), e.parsedIsDelete(ev); got != want {
			t.Fatalf("isDelete(%q) = %v, the JSONPath says %v", data, got, want)
		}
	})
}

// TestMarkedDataSkipsValidation: data its source marked as JSON is
// trusted by the structured encoding (the CDC → Kafka saving), and the
// mark stops counting once the data is replaced.
func TestMarkedDataSkipsValidation(t *testing.T) {
	t.Parallel()
	e := newTestEncoder(t)
	bad := []byte(`{"op":"d"`) // not JSON: only a mark lets it through
	ev := api.Event{ID: "1", Source: "/s", SpecVersion: "1.0", Type: "t", DataContentType: "application/json", Data: bad}
	if _, err := e.encode(nil, 0, &api.Record{Event: ev, Key: []byte("k")}, "t"); err == nil {
		t.Fatal("unmarked invalid data was encoded")
	}
	ev.MarkDataJSON()
	if _, err := e.encode(nil, 0, &api.Record{Event: ev, Key: []byte("k")}, "t"); err != nil {
		t.Fatalf("marked data was validated again: %v", err)
	}
	ev.Data = append([]byte(nil), bad...)
	if _, err := e.encode(nil, 0, &api.Record{Event: ev, Key: []byte("k")}, "t"); err == nil {
		t.Fatal("the mark outlived the data it was made for")
	}
}

// BenchmarkEncodeChange is the kafka sink's per-record work on a CDC
// change event (structured body, keyed, tombstones on): with the data
// unmarked (validated again, as before) and marked by its source.
func BenchmarkEncodeChange(b *testing.B) {
	for _, marked := range []bool{false, true} {
		name := "unmarked"
		if marked {
			name = "marked"
		}
		b.Run(name, func(b *testing.B) {
			e := newTestEncoder(b)
			ev := api.Event{ID: "mysql-bin.000003:123456:0", Source: "/ferry/mysql-cdc/shop", SpecVersion: "1.0",
				Type: "com.ferry.mysql.update", Subject: "shop.orders", DataContentType: "application/json", Data: changeEnvelope("u")}
			if marked {
				ev.MarkDataJSON()
			}
			r := &api.Record{Event: ev, Key: []byte(`{"id":42}`)}
			b.SetBytes(int64(len(ev.Data)))
			b.ReportAllocs()
			var msgs []message
			for b.Loop() {
				e.reset(false)
				var err error
				if msgs, err = e.encode(msgs[:0], 0, r, "t"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
