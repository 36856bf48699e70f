package rocketmq

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// TestUniqIDLayout checks the message ids against the clients' layout:
// the Go client's host and process part, a generator number of our own
// (not the Go client's 0), milliseconds since the month's start and the
// counter.
func TestUniqIDLayout(t *testing.T) {
	t.Parallel()
	lib := primitive.CreateUniqID()
	now := time.Date(2026, 3, 2, 1, 2, 3, 456_000_000, time.Local)
	id := uniqIDAt(now, 0xbeef)
	if len(id) != len(lib) || len(id) != 32 {
		t.Fatalf("id %q, the client's %q: want 32 characters", id, lib)
	}
	if id[:12] != lib[:12] {
		t.Errorf("host and process %q, the client's %q", id[:12], lib[:12])
	}
	if gen := id[12:20]; gen == lib[12:20] || gen == "00000000" || gen != strings.ToUpper(gen) {
		t.Errorf("generator %q: want upper-case hex other than the client's %q", gen, lib[12:20])
	}
	tail, err := hex.DecodeString(id[20:])
	if err != nil || id[20:] != strings.ToLower(id[20:]) {
		t.Fatalf("time and counter %q: want lower-case hex (%v)", id[20:], err)
	}
	want := (24*time.Hour + time.Hour + 2*time.Minute + 3*time.Second + 456*time.Millisecond).Milliseconds()
	if got := binary.BigEndian.Uint32(tail); int64(got) != want {
		t.Errorf("milliseconds since the month's start %d, want %d", got, want)
	}
	if got := binary.BigEndian.Uint16(tail[4:]); got != 0xbeef {
		t.Errorf("counter %#x, want 0xbeef", got)
	}
	// The next month starts again from 0.
	next := uniqIDAt(time.Date(2026, 4, 1, 0, 0, 0, 7_000_000, time.Local), 1)
	if next[20:28] != "00000007" {
		t.Errorf("2026-04-01 00:00:00.007: time part %q, want 00000007", next[20:28])
	}
}

// TestUniqIDsDoNotRepeat makes more ids at once than the client's
// whole-second count can tell apart (65,536 a second): none repeats.
func TestUniqIDsDoNotRepeat(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool, 200_000)
	for range 200_000 {
		id := newUniqID()
		if seen[id] {
			t.Fatalf("id %s made twice", id)
		}
		seen[id] = true
	}
}
