package kafka

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/connectors/kit"
)

// FuzzPartitionName: a partition's name reads back as its topic and
// number, and a name that does not read back is refused, never misread.
func FuzzPartitionName(f *testing.F) {
	for _, s := range []string{"orders-0", "a-b-c-12", "-1", "t--1", "t-", "t-x", "t-01", "t-9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p, ok := parsePartitionName(name)
		if !ok {
			return
		}
		if p.topic == "" || p.id < 0 {
			t.Fatalf("%q read as %+v", name, p)
		}
		if back := partitionName(p.topic, p.id); back != name {
			// Only a number with leading zeros or a sign reads back
			// differently; it still names the same partition.
			if n, err := strconv.Atoi(name[len(p.topic)+1:]); err != nil || n != p.id {
				t.Fatalf("%q read as %+v, written back as %q", name, p, back)
			}
		}
	})
}

// FuzzStart: start either parses to a mode that is one of the three, with
// a timestamp in range, or is refused.
func FuzzStart(f *testing.F) {
	for _, s := range []string{"earliest", "latest", "timestamp:0", "timestamp:1700000000000", "timestamp:-1", "timestamp:", "timestamp:1e3", "Earliest"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, err := parseStart(v)
		if err != nil {
			return
		}
		switch m.Kind {
		case "earliest", "latest":
			if v != m.Kind {
				t.Fatalf("%q parsed as %q", v, m.Kind)
			}
		case "timestamp":
			if m.Ms < 0 || m.Ms > kit.MaxStartMs || !strings.HasPrefix(v, "timestamp:") {
				t.Fatalf("%q parsed as timestamp %d", v, m.Ms)
			}
		default:
			t.Fatalf("%q parsed as kind %q", v, m.Kind)
		}
	})
}
