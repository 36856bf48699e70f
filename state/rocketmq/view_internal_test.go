package rocketmq

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

func mustRecord(t *testing.T, r record, payload any) record {
	t.Helper()
	b, err := encodeRecord(r, payload)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecord(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return got
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

func commit(t *testing.T, conn string, gen int64, kv ...string) record {
	m := map[string]api.Position{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = api.Position(kv[i+1])
	}
	return mustRecord(t, record{Type: recOffsetsCommit, Key: conn, Generation: gen, Time: t0}, offsetsPayload{Offsets: encodeOffsets(m)})
}

// commitBy is commit written by a worker's store.
func commitBy(t *testing.T, writer, conn string, gen int64, kv ...string) record {
	r := commit(t, conn, gen, kv...)
	r.Writer = writer
	return r
}

func fence(t *testing.T, conn, worker string, gen int64) record {
	return mustRecord(t, record{Type: recOffsetsFence, Key: conn, Generation: gen, Time: t0}, fencePayload{Worker: worker})
}

// TestApplyRules replays record sequences through state.apply and checks
// the outcome of the last record and the resulting offsets: the rules of
// state.Memory, decided from the records alone.
func TestApplyRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		records func(t *testing.T) []record
		wantErr error
		want    map[string]string // partition → position of connector "c"
	}{
		{"commit", func(t *testing.T) []record { return []record{commit(t, "c", 1, "a", "1")} }, nil, map[string]string{"a": "1"}},
		{"older generation fenced", func(t *testing.T) []record {
			return []record{commit(t, "c", 5, "a", "5"), commit(t, "c", 4, "a", "4")}
		}, state.ErrFenced, map[string]string{"a": "5"}},
		{"equal generation overwrites", func(t *testing.T) []record {
			return []record{commit(t, "c", 5, "a", "5"), commit(t, "c", 5, "a", "5b")}
		}, nil, map[string]string{"a": "5b"}},
		{"fence is all or nothing", func(t *testing.T) []record {
			return []record{commit(t, "c", 3, "b", "3"), commit(t, "c", 2, "a", "2", "b", "2")}
		}, state.ErrFenced, map[string]string{"b": "3"}},
		{"alter keeps generation", func(t *testing.T) []record {
			return []record{commit(t, "c", 5, "a", "5"),
				mustRecord(t, record{Type: recOffsetsAlter, Key: "c", Time: t0}, offsetsPayload{Offsets: encodeOffsets(map[string]api.Position{"a": api.Position("op")})}),
				commit(t, "c", 4, "a", "4")}
		}, state.ErrFenced, map[string]string{"a": "op"}},
		{"alter nil deletes", func(t *testing.T) []record {
			return []record{commit(t, "c", 1, "a", "1", "b", "2"),
				mustRecord(t, record{Type: recOffsetsAlter, Key: "c", Time: t0}, offsetsPayload{Offsets: encodeOffsets(map[string]api.Position{"a": nil})})}
		}, nil, map[string]string{"b": "2"}},
		{"fence refuses the fenced run", func(t *testing.T) []record {
			return []record{commitBy(t, "z", "c", 4, "a", "1"), fence(t, "c", "z", 4), commitBy(t, "z", "c", 4, "a", "2")}
		}, state.ErrFenced, map[string]string{"a": "1"}},
		{"fenced partition goes on with the new owner", func(t *testing.T) []record {
			return []record{commitBy(t, "z", "c", 4, "a", "1"), fence(t, "c", "z", 4), commitBy(t, "n", "c", 5, "a", "2")}
		}, nil, map[string]string{"a": "2"}},
		{"fence spares other runs", func(t *testing.T) []record {
			return []record{commitBy(t, "z", "c", 4, "a", "1"), commitBy(t, "d", "c", 5, "b", "1"), commitBy(t, "z", "c", 3, "x", "1"),
				fence(t, "c", "z", 4), commitBy(t, "d", "c", 5, "b", "2"), commitBy(t, "z", "c", 3, "x", "2")}
		}, nil, map[string]string{"a": "1", "b": "2", "x": "2"}},
		{"reset", func(t *testing.T) []record {
			return []record{commit(t, "c", 1, "a", "1"), mustRecord(t, record{Type: recOffsetsAlter, Key: "c", Time: t0}, offsetsPayload{Reset: true})}
		}, nil, map[string]string{}},
		{"invalid utf-8 partition", func(t *testing.T) []record { return []record{commit(t, "c", 1, "\xff\xfe", "x")} }, nil, map[string]string{"\xff\xfe": "x"}},
		{"delete missing", func(t *testing.T) []record {
			return []record{mustRecord(t, record{Type: recConnectorDelete, Key: "c", Time: t0}, nil)}
		}, state.ErrNotFound, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := newView()
			var out outcome
			for i, r := range tt.records(t) {
				var err error
				if out, err = st.apply(r, int64(i)); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
			}
			if !errors.Is(out.err, tt.wantErr) || (tt.wantErr == nil && out.err != nil) {
				t.Errorf("last outcome = %v, want %v", out.err, tt.wantErr)
			}
			got := map[string]string{}
			for p, o := range st.offsets["c"] {
				got[p] = string(o.position)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("offsets = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestApplyConnectorAndStatus(t *testing.T) {
	t.Parallel()
	st := newView()
	put := func(off int64, ts time.Time, v string) outcome {
		out, err := st.apply(mustRecord(t, record{Type: recConnectorPut, Key: "c", Time: ts}, connectorPayload{Config: map[string]string{"v": v}, Target: state.TargetPaused}), off)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := put(7, t0, "1")
	if first.connector.Revision != 8 || !first.connector.Created.Equal(t0) || first.connector.Target != state.TargetPaused {
		t.Errorf("first put = %+v", first.connector)
	}
	// A writer with a clock behind: Created kept, Updated does not go back.
	second := put(9, t0.Add(-time.Hour), "2")
	if second.connector.Revision != 10 || !second.connector.Created.Equal(t0) || !second.connector.Updated.Equal(t0) {
		t.Errorf("second put = %+v", second.connector)
	}
	status := func(task int, gen int64, st0 state.State) {
		_, err := st.apply(mustRecord(t, record{Type: recStatusPut, Key: "c", Generation: gen, Time: t0}, statusPayload{Task: task, State: st0, Updated: t0}), 0)
		if err != nil {
			t.Fatal(err)
		}
	}
	status(0, 3, state.StateRunning)
	status(0, 2, state.StateFailed)
	if got := st.statuses["c"][0].State; got != state.StateRunning {
		t.Errorf("older-generation status applied: %s", got)
	}
	if _, err := st.apply(mustRecord(t, record{Type: recStatusClear, Key: "c", Time: t0}, nil), 0); err != nil {
		t.Fatal(err)
	}
	if len(st.statuses["c"]) != 0 {
		t.Errorf("statuses after clear: %+v", st.statuses["c"])
	}
}

// TestSnapshotPartRoundTrip: encodePart then loadPart reproduces the state.
func TestSnapshotPartRoundTrip(t *testing.T) {
	t.Parallel()
	st := newView()
	st.connectors["c"] = state.Connector{Name: "c", Config: map[string]string{"k": "v"}, Target: state.TargetRunning, Revision: 3, Created: t0, Updated: t0}
	st.offsets["c"] = map[string]storedOffset{"a": {generation: 4, position: api.Position{0, 1}}, "": {position: api.Position{}}, "\xff": {generation: 1, position: api.Position("x")}}
	st.statuses["c"] = map[int]state.Status{state.ConnectorTask: {Connector: "c", Task: -1, State: state.StateRunning, Generation: 2, Updated: t0}}
	back := newView()
	for _, kind := range kinds {
		b, err := st.encodePart(kind)
		if err != nil {
			t.Fatal(err)
		}
		if err := back.loadPart(kind, b); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(fmt.Sprint(back.connectors), fmt.Sprint(st.connectors)) ||
		!reflect.DeepEqual(back.offsets, st.offsets) || !reflect.DeepEqual(fmt.Sprint(back.statuses), fmt.Sprint(st.statuses)) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, st)
	}
}

func TestDecodeRecordRefuses(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"not json":     `{`,
		"version 2":    `{"v":2,"type":"status.put","key":"c"}`,
		"unknown type": `{"v":1,"type":"nope","key":"c"}`,
		"no key":       `{"v":1,"type":"status.put","key":""}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := decodeRecord([]byte(in)); !errors.Is(err, ErrRecord) {
				t.Errorf("err = %v, want ErrRecord", err)
			}
		})
	}
}

// FuzzApply: any bytes either fail to decode or apply without panicking.
func FuzzApply(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"offsets.commit","key":"c","generation":2,"ts":"2026-01-01T00:00:00Z","payload":{"offsets":[{"p":"a","pos":"AQ=="}]}}`))
	f.Add([]byte(`{"v":1,"type":"connector.put","key":"c","ts":"2026-01-01T00:00:00Z","payload":{"config":{"a":"b"},"target":"RUNNING"}}`))
	f.Add([]byte(`{"v":1,"type":"status.put","key":"c","payload":{"task":-1,"state":"RUNNING"}}`))
	f.Add([]byte(`{"v":1,"type":"offsets.alter","key":"c","payload":{"reset":true}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		st := newView()
		_, _ = st.apply(r, 0)
		for _, kind := range kinds {
			enc, err := st.encodePart(kind)
			if err != nil {
				t.Fatal(err)
			}
			if err := newView().loadPart(kind, enc); err != nil {
				t.Fatalf("snapshot of a state apply built does not load: %v", err)
			}
		}
	})
}
