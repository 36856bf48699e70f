package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
)

// TestTranslateOffsets walks the rule's branches on one map: source
// partition a (from 10) sent to targets x and y, b (from 0) to x.
func TestTranslateOffsets(t *testing.T) {
	t.Parallel()
	maps := []api.PartitionMap{
		{Partition: "a", From: 10, Targets: []api.TargetSyncs{
			{Target: "x", Syncs: []api.PositionSync{{Next: 12, Offset: 100}, {Next: 20, Offset: 140}, {Next: 30, Offset: 170}}},
			{Target: "y", Syncs: []api.PositionSync{{Next: 15, Offset: 7}}},
		}},
		{Partition: "b", From: 0, Targets: []api.TargetSyncs{
			{Target: "x", Syncs: []api.PositionSync{{Next: 5, Offset: 120}}},
		}},
	}
	committed := map[string]int64{"a": 10, "b": 0, "c": 50}
	for _, tc := range []struct {
		name     string
		maps     []api.PartitionMap
		consumer map[string]int64
		want     string // targets, then the unknown targets
	}{
		{"after the newest sync at or before", maps, map[string]int64{"a": 25}, "map[x:141 y:8] []"},
		{"at a sync's next exactly", maps, map[string]int64{"a": 20}, "map[x:141 y:8] []"},
		{"before every sync: the first's offset", maps, map[string]int64{"a": 11}, "map[x:100 y:7] []"},
		{"the smallest over source partitions", maps, map[string]int64{"a": 25, "b": 9}, "map[x:121 y:8] []"},
		{"before from: every target unknown", maps, map[string]int64{"a": 9, "b": 9}, "map[] [\"\"]"},
		{"no map, at or after the committed offset: no bound", maps, map[string]int64{"a": 25, "c": 50}, "map[x:141 y:8] []"},
		{"no map, before the committed offset", maps, map[string]int64{"a": 25, "c": 49}, "map[] [\"\"]"},
		{"no map and nothing committed", maps, map[string]int64{"d": 0}, "map[] [\"\"]"},
		{"a first send in flight", append([]api.PartitionMap{{Partition: "e", Targets: []api.TargetSyncs{{Target: "y"}}}}, maps...),
			map[string]int64{"a": 25, "e": 3}, "map[x:141] [\"y\"]"},
		{"a send to a queue not known yet", append([]api.PartitionMap{{Partition: "e", Targets: []api.TargetSyncs{{}}}}, maps...),
			map[string]int64{"a": 25, "e": 3}, "map[] [\"\"]"},
		{"maps of partitions the consumer has no offset for are ignored", maps, map[string]int64{"b": 9}, "map[x:121] []"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := api.TranslateOffsets(tc.maps, committed, tc.consumer)
			var unknown []string
			for _, u := range tr.Unknown {
				unknown = append(unknown, fmt.Sprintf("%q", u.Target))
				if u.Partition == "" || u.Reason == "" {
					t.Errorf("unknown entry without partition or reason: %+v", u)
				}
			}
			if got := fmt.Sprint(tr.Targets, " ", "[", strings.Join(unknown, ","), "]"); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
