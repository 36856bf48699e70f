package rocketmq

import (
	"errors"
	"reflect"
	"testing"
)

// TestApplyMetaCAS checks the register rule every store applies alike: a
// put takes effect only when it expects the stored version, so of two
// writers that read the same version the first in queue order wins.
func TestApplyMetaCAS(t *testing.T) {
	t.Parallel()
	put := func(key string, expect int64, v string) record {
		return mustRecord(t, record{Type: recMetaPut, Key: key, Generation: expect, Time: t0}, metaPayload{Value: []byte(v)})
	}
	tests := []struct {
		name    string
		recs    []record
		want    MetaValue
		lastErr error
	}{
		{"first write expects 0", []record{put("a", 0, "x")}, MetaValue{Value: []byte("x"), Version: 1}, nil},
		{"first write expecting 5 loses", []record{put("a", 5, "x")}, MetaValue{}, ErrConflict},
		{"chain", []record{put("a", 0, "x"), put("a", 1, "y")}, MetaValue{Value: []byte("y"), Version: 2}, nil},
		{"second racer loses", []record{put("a", 0, "x"), put("a", 0, "y")}, MetaValue{Value: []byte("x"), Version: 1}, ErrConflict},
		{"other keys independent", []record{put("b", 0, "q"), put("a", 0, "x")}, MetaValue{Value: []byte("x"), Version: 2}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newView()
			var last outcome
			for i, r := range tc.recs {
				out, err := st.apply(r, int64(i))
				if err != nil {
					t.Fatal(err)
				}
				last = out
			}
			if !errors.Is(last.err, tc.lastErr) {
				t.Errorf("last outcome %v, want %v", last.err, tc.lastErr)
			}
			got := st.meta["a"]
			if tc.want.Value == nil && got.Version == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("register = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSnapshotMetaRoundTrip(t *testing.T) {
	t.Parallel()
	st := newView()
	st.meta["tasks/c"] = MetaValue{Value: []byte(`{"x":1}`), Version: 7}
	st.meta["assignment"] = MetaValue{Value: []byte{}, Version: 9}
	b, err := st.encodePart(kindConfig)
	if err != nil {
		t.Fatal(err)
	}
	back := newView()
	if err := back.loadPart(kindConfig, b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.meta, st.meta) {
		t.Errorf("round trip: got %+v, want %+v", back.meta, st.meta)
	}
}
