package rocketmq

import (
	"errors"
	"strings"
	"testing"
)

func TestLostRecordsRule(t *testing.T) {
	t.Parallel()
	q := func(topic string, id int32) queue {
		return queue{kind: kindOffsets, topic: topic, broker: "broker-a", id: id}
	}
	tests := []struct {
		name  string
		in    []queueStart
		lost  []int // indexes into in
		froms []int64
	}{
		{name: "new cluster", in: []queueStart{{queue: q("o", 0)}}, froms: []int64{0}},
		{name: "no snapshot, nothing deleted", in: []queueStart{{queue: q("o", 0), first: 0}}, froms: []int64{0}},
		{name: "no snapshot, beginning deleted", in: []queueStart{{queue: q("o", 0), first: 40}}, lost: []int{0}, froms: []int64{40}},
		{name: "snapshot ahead of deletion", in: []queueStart{{queue: q("o", 0), covered: 1200, snapshot: true, first: 900}}, froms: []int64{1200}},
		{name: "deleted exactly up to the snapshot", in: []queueStart{{queue: q("o", 0), covered: 1200, snapshot: true, first: 1200}}, froms: []int64{1200}},
		{name: "deleted one past the snapshot", in: []queueStart{{queue: q("o", 0), covered: 1200, snapshot: true, first: 1201}}, lost: []int{0}, froms: []int64{1201}},
		{name: "snapshot of an empty queue, records since deleted", in: []queueStart{{queue: q("o", 0), covered: 0, snapshot: true, first: 3}}, lost: []int{0}, froms: []int64{3}},
		{
			name: "one queue of several",
			in: []queueStart{
				{queue: q("c", 0), covered: 10, snapshot: true, first: 5},
				{queue: q("o", 0), covered: 100, snapshot: true, first: 150},
				{queue: q("o", 1), covered: 80, snapshot: true, first: 80},
				{queue: q("s", 0), first: 7},
			},
			lost:  []int{1, 3},
			froms: []int64{10, 150, 80, 7},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := lostRecords(tt.in)
			if len(got) != len(tt.lost) {
				t.Fatalf("lost = %+v, want indexes %v", got, tt.lost)
			}
			for i, j := range tt.lost {
				if got[i] != tt.in[j] {
					t.Errorf("lost[%d] = %+v, want %+v", i, got[i], tt.in[j])
				}
			}
			for i, in := range tt.in {
				if in.from() != tt.froms[i] {
					t.Errorf("queue %d starts at %d, want %d", i, in.from(), tt.froms[i])
				}
			}
		})
	}
}

func TestLostError(t *testing.T) {
	t.Parallel()
	err := lostError([]queueStart{
		{queue: queue{topic: "ferry-prod-offsets", broker: "broker-a", id: 1}, covered: 1200, snapshot: true, first: 1500},
		{queue: queue{topic: "ferry-prod-config", broker: "broker-a", id: 0}, first: 40},
	})
	if !errors.Is(err, ErrLostRecords) {
		t.Fatalf("err = %v, want ErrLostRecords", err)
	}
	for _, want := range []string{
		"topic ferry-prod-offsets queue broker-a/1: the newest snapshot covers offsets below 1200 but the broker's earliest stored offset is 1500 (offsets 1200-1499 deleted)",
		"topic ferry-prod-config queue broker-a/0: no snapshot covers it but the broker's earliest stored offset is 40 (offsets 0-39 deleted)",
		"backup", "AcceptLostRecords", "new cluster name",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
