package rocketmq

import (
	"errors"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	in := Config{NameServers: []string{"127.0.0.1:9876"}, Cluster: "prod"}
	c, err := in.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigTopic != "ferry-prod-config" || c.OffsetsTopic != "ferry-prod-offsets" || c.StatusTopic != "ferry-prod-status" ||
		c.SnapshotTopic != "ferry-prod-snapshots" || c.Queues != DefaultQueues || c.SnapshotEvery != DefaultSnapshotEvery || c.MaxSnapshotAge != DefaultMaxSnapshotAge || c.Logger == nil {
		t.Errorf("defaults = %+v", c)
	}
	if in.ConfigTopic != "" || in.Logger != nil {
		t.Errorf("withDefaults changed the caller's config: %+v", in)
	}
}

func TestConfigRefuses(t *testing.T) {
	t.Parallel()
	ns := []string{"127.0.0.1:9876"}
	tests := map[string]Config{
		"no name servers": {Cluster: "c"},
		"no cluster":      {NameServers: ns},
		"bad topic":       {NameServers: ns, Cluster: "c", ConfigTopic: "a b"},
		"same topic":      {NameServers: ns, Cluster: "c", ConfigTopic: "x", StatusTopic: "x"},
		"negative queues": {NameServers: ns, Cluster: "c", Queues: -1},
		"negative age":    {NameServers: ns, Cluster: "c", MaxSnapshotAge: -time.Hour},
		"age under 1s":    {NameServers: ns, Cluster: "c", MaxSnapshotAge: time.Millisecond},
		// Past the broker's default retention: snapshots would be deleted
		// before they are replaced.
		"age over 48h": {NameServers: ns, Cluster: "c", MaxSnapshotAge: 72 * time.Hour},
		"age overflow": {NameServers: ns, Cluster: "c", MaxSnapshotAge: time.Duration(1<<63 - 1)},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
				t.Errorf("err = %v, want ErrConfig", err)
			}
		})
	}
}

func TestConfigAgeBounds(t *testing.T) {
	t.Parallel()
	ns := []string{"127.0.0.1:9876"}
	for _, age := range []time.Duration{MinMaxSnapshotAge, time.Hour, MaxMaxSnapshotAge} {
		c, err := Config{NameServers: ns, Cluster: "c", MaxSnapshotAge: age}.withDefaults()
		if err != nil || c.MaxSnapshotAge != age {
			t.Errorf("MaxSnapshotAge %s: got %s, %v", age, c.MaxSnapshotAge, err)
		}
	}
}
