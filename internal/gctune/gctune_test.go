package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestPlan(t *testing.T) {
	t.Parallel()
	const gib = int64(1) << 30
	for _, tc := range []struct {
		name      string
		req       Request
		env       func(string) string
		available int64
		want      Settings
		err       string
	}{
		{"defaults", Request{}, env(), 8 * gib, Settings{Percent: 400, Limit: 6 * gib, PercentSrc: "default", LimitSrc: "adaptive", Floor: DefaultFloor}, ""},
		{"auto is the default", Request{Limit: "AUTO"}, env(), 8 * gib, Settings{Percent: 400, Limit: 6 * gib, PercentSrc: "default", LimitSrc: "adaptive", Floor: DefaultFloor}, ""},
		{"unknown memory", Request{}, env(), 0, Settings{Percent: 400, PercentSrc: "default", LimitSrc: "adaptive", Floor: DefaultFloor}, ""},
		{"machine under the floor: a fixed share", Request{}, env(), DefaultFloor, Settings{Percent: 400, Limit: DefaultFloor * 3 / 4, PercentSrc: "default", LimitSrc: "auto"}, ""},
		{"GOGC off: a fixed share", Request{}, env("GOGC", "off"), 8 * gib, Settings{Percent: -1, Limit: 6 * gib, PercentSrc: "GOGC", LimitSrc: "auto"}, ""},
		{"GOGC off, unknown memory", Request{}, env("GOGC", "off"), 0, Settings{Percent: -1, PercentSrc: "GOGC", LimitSrc: "none"}, ""},
		{"flags", Request{Percent: 200, Limit: "512MiB"}, env(), 8 * gib, Settings{Percent: 200, Limit: 512 << 20, PercentSrc: "flag", LimitSrc: "flag"}, ""},
		{"limit off", Request{Limit: "off"}, env(), 8 * gib, Settings{Percent: 400, PercentSrc: "default", LimitSrc: "none"}, ""},
		{"GOGC wins over the flag", Request{Percent: 200}, env("GOGC", "50"), 8 * gib, Settings{Percent: 50, Limit: 6 * gib, PercentSrc: "GOGC", LimitSrc: "adaptive", Floor: DefaultFloor}, ""},
		{"auto from another floor", Request{Limit: "Auto: 16MiB"}, env(), 8 * gib, Settings{Percent: 400, Limit: 6 * gib, PercentSrc: "default", LimitSrc: "adaptive", Floor: 16 << 20}, ""},
		{"auto floor over the machine's share: that share, fixed", Request{Limit: "auto:8GiB"}, env(), 8 * gib, Settings{Percent: 400, Limit: 6 * gib, PercentSrc: "default", LimitSrc: "auto"}, ""},
		{"auto floor too low", Request{Limit: "auto:1MiB"}, env(), 8 * gib, Settings{}, "under the least, 8MiB"},
		{"auto floor not a size", Request{Limit: "auto:big"}, env(), 8 * gib, Settings{}, `"big" is not a size`},
		{"auto floor empty", Request{Limit: "auto:"}, env(), 8 * gib, Settings{}, `is not a size`},
		{"bad size", Request{Limit: "lots"}, env(), 8 * gib, Settings{}, `"lots" is not a size`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Plan(tc.req, tc.env, tc.available)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Plan = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestPlanKeepsGOMEMLIMIT(t *testing.T) {
	t.Parallel()
	s, err := Plan(Request{Limit: "1GiB"}, env("GOMEMLIMIT", "2GiB"), 8<<30)
	if err != nil || s.LimitSrc != "GOMEMLIMIT" {
		t.Fatalf("Plan = %+v, %v; want the environment's limit left alone", s, err)
	}
}

func TestParseAndFormatBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"1": 1, "10B": 10, "4KiB": 4 << 10, "512MiB": 512 << 20, "3GiB": 3 << 30, "2 GiB": 2 << 30, "1TiB": 1 << 40} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1GiB", "1.5GiB", "GiB", "1PB", "99999999999TiB"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
	for n, want := range map[int64]string{6 << 30: "6GiB", 512 << 20: "512MiB", 1536 << 20: "1536MiB", 100<<20 + 5: "100MiB", 7: "7B"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestAvailableSources(t *testing.T) {
	t.Parallel()
	if got := memTotal([]byte("MemFree:  100 kB\nMemTotal:       24684136 kB\n")); got != 24684136<<10 {
		t.Errorf("memTotal = %d", got)
	}
	if got := memTotal([]byte("nothing")); got != 0 {
		t.Errorf("memTotal without the line = %d", got)
	}
	for in, want := range map[string]int64{"max\n": 0, "9223372036854771712\n": 0, "2147483648\n": 2 << 30, "": 0} {
		if got := cgroupLimit([]byte(in)); got != want {
			t.Errorf("cgroupLimit(%q) = %d, want %d", in, got, want)
		}
	}
	if Available() <= 0 {
		t.Error("Available() found no memory on this machine")
	}
}

// TestAdaptiveLimit is the policy: a small heap is held at the floor, a
// large one may grow by percent of itself (plus an eighth and the
// runtime's other memory), and the ceiling caps both.
func TestAdaptiveLimit(t *testing.T) {
	t.Parallel()
	const mib = int64(1) << 20
	for _, tc := range []struct {
		name                  string
		live, other           int64
		percent               int
		floor, ceiling, limit int64
	}{
		{"small heap: the floor", 5 * mib, 6 * mib, 100, 40 * mib, 6 << 30, 40 * mib},
		{"no heap yet: the floor", 0, 0, 100, 40 * mib, 0, 40 * mib},
		{"large heap: twice the live heap", 100 * mib, 8 * mib, 100, 40 * mib, 6 << 30, 200*mib + 200*mib/8 + 8*mib},
		{"another percent", 100 * mib, 0, 300, 40 * mib, 0, 400*mib + 400*mib/8},
		{"just over the floor", 16 * mib, 6 * mib, 100, 40 * mib, 0, 32*mib + 32*mib/8 + 6*mib},
		{"negative other counts as none", 100 * mib, -5, 100, 40 * mib, 0, 200*mib + 200*mib/8},
		{"the ceiling caps", 4 << 30, 0, 100, 40 * mib, 6 << 30, 6 << 30},
		{"huge values do not overflow", 1 << 62, 1 << 62, 100, 40 * mib, 0, 1<<62 - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := AdaptiveLimit(tc.live, tc.other, tc.percent, tc.floor, tc.ceiling)
			if tc.name == "huge values do not overflow" {
				if got <= tc.floor {
					t.Fatalf("AdaptiveLimit = %d, overflowed", got)
				}
				return
			}
			if got != tc.limit {
				t.Fatalf("AdaptiveLimit = %d MiB, want %d MiB", got>>20, tc.limit>>20)
			}
		})
	}
}

// TestAdaptiveFollowsTheHeap applies the policy to this process: after a
// collection the limit is the floor while the live heap is small, rises
// when a large live heap is held, and Apply with a fixed limit stops it.
// Not parallel: the collector's settings are the process's.
func TestAdaptiveFollowsTheHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT is set: the policy leaves them alone")
	}
	s, err := Apply(Request{})
	if err != nil || s.LimitSrc != "adaptive" {
		t.Fatalf("Apply = %+v, %v; want the adaptive policy", s, err)
	}
	waitLimit := func(ok func(int64) bool) int64 {
		t.Helper()
		var l int64
		for range 50 {
			runtime.GC()
			time.Sleep(10 * time.Millisecond) // the finalizer runs after the cycle
			if l = debug.SetMemoryLimit(-1); ok(l) {
				return l
			}
		}
		t.Fatalf("memory limit stayed %d MiB", l>>20)
		return l
	}
	waitLimit(func(l int64) bool { return l == DefaultFloor })
	big := make([][]byte, 64) // 64 MiB held live
	for i := range big {
		big[i] = make([]byte, 1<<20)
	}
	l := waitLimit(func(l int64) bool { return l > 2*64<<20 })
	runtime.KeepAlive(big)
	if s.Limit > 0 && l > s.Limit {
		t.Fatalf("limit %d MiB over the ceiling %d MiB", l>>20, s.Limit>>20)
	}
	if _, err := Apply(Request{Limit: "1GiB"}); err != nil {
		t.Fatal(err)
	}
	big = nil
	for range 5 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if l := debug.SetMemoryLimit(-1); l != 1<<30 {
		t.Fatalf("after a fixed limit the policy still moved it: %d MiB", l>>20)
	}
}
