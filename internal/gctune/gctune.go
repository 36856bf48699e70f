package gctune

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Defaults for the worker's flags.
const (
	// DefaultPercent is the GOGC the worker sets when the environment sets
	// none.
	DefaultPercent = 400
	// DefaultLimitShare is the share of the machine's (or the cgroup's)
	// memory that the soft memory limit never exceeds when GOMEMLIMIT is
	// unset.
	DefaultLimitShare = 0.75
	// DefaultFloor is the lowest soft memory limit the adaptive policy
	// sets: a worker whose live heap is small stays near it instead of
	// letting GOGC=400 grow garbage to five times the live heap (and the
	// 16 MB minimum heap goal). A lower floor holds a small pipeline
	// smaller but costs every pipeline that allocates fast with a small
	// live heap: at 24 MiB, CDC → RocketMQ spent 1.7–2× and CDC → Kafka
	// 1.2–1.5× the CPU per row of 40 MiB, so the smaller floor is an
	// option (--memory-limit auto:<size>), not the default;
	// docs/benchmarks.md ("Memory per connector") has the measurements.
	DefaultFloor = 40 << 20
	// MinFloor is the lowest floor --memory-limit auto:<size> accepts:
	// under it the runtime's own memory leaves the heap no room and the
	// collector runs without pause.
	MinFloor = 8 << 20
)

// Settings are the collector settings in force, for the start-up log.
type Settings struct {
	Percent    int    // GOGC; -1 is off
	Limit      int64  // soft memory limit in bytes (adaptive: its ceiling); 0 is none
	PercentSrc string // "GOGC" (environment), "flag" or "default"
	// LimitSrc is "GOMEMLIMIT", "flag", "auto" (a fixed share of the
	// memory available), "adaptive" (AdaptiveLimit after every
	// collection, between Floor and Limit) or "none".
	LimitSrc string
	Floor    int64 // adaptive: the lowest limit
}

func (s Settings) String() string {
	limit := "none"
	switch {
	case s.LimitSrc == "adaptive" && s.Limit > 0:
		limit = fmt.Sprintf("from %s to %s, following the live heap", FormatBytes(s.Floor), FormatBytes(s.Limit))
	case s.LimitSrc == "adaptive":
		limit = fmt.Sprintf("from %s, following the live heap", FormatBytes(s.Floor))
	case s.Limit > 0:
		limit = FormatBytes(s.Limit)
	}
	return fmt.Sprintf("GOGC=%d (%s), memory limit %s (%s)", s.Percent, s.PercentSrc, limit, s.LimitSrc)
}

// Request is what the operator asked for on the command line.
type Request struct {
	// Percent is the GOGC to set; 0 means DefaultPercent.
	Percent int
	// Limit is "auto" (the adaptive policy: DefaultFloor, rising with the
	// live heap up to DefaultLimitShare of the memory available),
	// "auto:<size>" (the same from another floor, at least MinFloor),
	// "off", or a size such as 4GiB or 512MiB; "" means auto.
	Limit string
}

// Plan decides the settings from the request, the environment (getenv)
// and the memory available in bytes (0 when unknown). It changes nothing.
func Plan(req Request, getenv func(string) string, available int64) (Settings, error) {
	var s Settings
	if v := getenv("GOGC"); v != "" {
		s.PercentSrc = "GOGC"
		if strings.EqualFold(v, "off") {
			s.Percent = -1
		} else if n, err := strconv.Atoi(v); err == nil {
			s.Percent = n
		} else {
			s.Percent = 100 // the runtime ignores a bad GOGC
		}
	} else if req.Percent != 0 {
		s.Percent, s.PercentSrc = req.Percent, "flag"
	} else {
		s.Percent, s.PercentSrc = DefaultPercent, "default"
	}
	if getenv("GOMEMLIMIT") != "" {
		s.LimitSrc = "GOMEMLIMIT"
		if l := debug.SetMemoryLimit(-1); l < math.MaxInt64 { // the runtime parsed it
			s.Limit = l
		}
		return s, nil
	}
	l := strings.TrimSpace(req.Limit)
	floor, auto := int64(DefaultFloor), l == "" || strings.EqualFold(l, "auto")
	if len(l) > 5 && strings.EqualFold(l[:5], "auto:") {
		n, err := ParseBytes(strings.TrimSpace(l[5:]))
		if err != nil {
			return s, fmt.Errorf("--memory-limit: %w", err)
		}
		if n < MinFloor {
			return s, fmt.Errorf("--memory-limit: the adaptive limit's floor %s is under the least, %s", FormatBytes(n), FormatBytes(MinFloor))
		}
		floor, auto = n, true
	}
	switch {
	case auto:
		if available > 0 {
			s.Limit, s.LimitSrc = int64(float64(available)*DefaultLimitShare), "auto"
		}
		if s.Percent > 0 && (s.Limit == 0 || s.Limit > floor) {
			// A limit that follows the live heap (AdaptiveLimit): never
			// under the floor, never over the share of the machine.
			s.LimitSrc, s.Floor = "adaptive", floor
		}
		if s.LimitSrc == "" {
			s.LimitSrc = "none"
		}
	case strings.EqualFold(l, "off"):
		s.LimitSrc = "none"
	default:
		n, err := ParseBytes(l)
		if err != nil {
			return s, fmt.Errorf("--memory-limit: %w", err)
		}
		s.Limit, s.LimitSrc = n, "flag"
	}
	return s, nil
}

// Apply plans the settings for this process and sets them. GOGC and
// GOMEMLIMIT in the environment are left as the runtime read them.
func Apply(req Request) (Settings, error) {
	s, err := Plan(req, os.Getenv, Available())
	if err != nil {
		return s, err
	}
	if s.PercentSrc != "GOGC" {
		debug.SetGCPercent(s.Percent)
	}
	switch s.LimitSrc {
	case "auto", "flag":
		debug.SetMemoryLimit(s.Limit)
	}
	follow(s)
	return s, nil
}

// Available returns the memory this process may use in bytes: the
// machine's, or its cgroup's limit when that is lower; 0 when unknown.
func Available() int64 {
	total := memTotal(readFile("/proc/meminfo"))
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if n := cgroupLimit(readFile(path)); n > 0 && (total == 0 || n < total) {
			total = n
		}
	}
	return total
}

func readFile(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// memTotal reads MemTotal from /proc/meminfo; 0 when absent.
func memTotal(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || kb <= 0 {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// cgroupLimit reads a cgroup memory limit file: a number of bytes, "max"
// (v2, no limit) or a huge number (v1, no limit); 0 means no limit.
func cgroupLimit(b []byte) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0
	}
	return n
}

var units = []struct {
	suffix string
	shift  uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

// ParseBytes reads a size: a whole number of bytes with an optional
// suffix B, KiB, MiB, GiB or TiB.
func ParseBytes(s string) (int64, error) {
	num, shift := s, uint(0)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, shift = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a size: write a positive whole number with an optional unit B, KiB, MiB, GiB or TiB, or auto, or off", s)
	}
	return n << shift, nil
}

// FormatBytes writes n in the largest unit that divides it, or else in
// MiB rounded down.
func FormatBytes(n int64) string {
	for _, u := range units[:3] {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	if n >= 1<<20 {
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}
