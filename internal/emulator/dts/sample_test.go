package dts_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/emulator/dts"
)

func TestSampleChanges(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_763_800_000, 0).UTC()
	for _, n := range []int{0, 1, 5, 50} {
		changes := dts.SampleChanges(n, start)
		if len(changes) != n {
			t.Fatalf("SampleChanges(%d) returned %d", n, len(changes))
		}
		ops := map[dts.Operation]int{}
		for i, c := range changes {
			ops[c.Op]++
			if want := start.Add(time.Duration(i) * time.Second); !c.Timestamp.Equal(want) {
				t.Fatalf("change %d at %v, want %v", i, c.Timestamp, want)
			}
			b, err := dts.Encode(c)
			if err != nil {
				t.Fatalf("change %d: %v", i, err)
			}
			got, err := dts.Decode(b)
			if err != nil || !reflect.DeepEqual(got, c) {
				t.Fatalf("change %d round trip: %v\n got %#v\nwant %#v", i, err, got, c)
			}
		}
		if n == 50 {
			for _, op := range []dts.Operation{dts.DDL, dts.Begin, dts.Insert, dts.Update, dts.Commit, dts.Heartbeat} {
				if ops[op] == 0 {
					t.Errorf("no %s among %d sample changes", op, n)
				}
			}
		}
	}
}
