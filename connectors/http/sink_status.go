package http

import (
	"fmt"
	"math"
	nethttp "net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// class is what the sink does with a response: the record is written,
// the request is retried (the engine's backoff, no sooner than
// Retry-After), or the record is rejected (errors.tolerance decides:
// dead-letter sink or task failure).
type class uint8

const (
	classWritten class = iota
	classRetry
	classReject
)

func (c class) String() string {
	switch c {
	case classRetry:
		return "retry"
	case classReject:
		return "reject"
	}
	return "written"
}

// statusRange is an inclusive range of status codes.
type statusRange struct{ lo, hi int }

// maxStatusRules bounds retry.on and drop.on.
const maxStatusRules = 32

// parseStatusRanges reads retry.on or drop.on: comma-separated codes
// (429), ranges (500-504) or classes (5xx), each within 100–599.
func parseStatusRanges(v string) ([]statusRange, error) {
	var out []statusRange
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if len(out) == maxStatusRules {
			return nil, fmt.Errorf("at most %d codes or ranges", maxStatusRules)
		}
		r, err := parseStatusRange(item)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func parseStatusRange(item string) (statusRange, error) {
	bad := fmt.Errorf("%q is not a status code (429), range (500-504) or class (5xx) within 100-599", item)
	if len(item) == 3 && (item[1:] == "xx" || item[1:] == "XX") && item[0] >= '1' && item[0] <= '5' {
		lo := int(item[0]-'0') * 100
		return statusRange{lo, lo + 99}, nil
	}
	lo, hi, isRange := strings.Cut(item, "-")
	a, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil || a < 100 || a > 599 {
		return statusRange{}, bad
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || b < a || b > 599 {
			return statusRange{}, bad
		}
	}
	return statusRange{a, b}, nil
}

func inRanges(rs []statusRange, code int) bool {
	for _, r := range rs {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

func overlap(a, b []statusRange) (statusRange, bool) {
	for _, x := range a {
		for _, y := range b {
			if x.lo <= y.hi && y.lo <= x.hi {
				return statusRange{max(x.lo, y.lo), min(x.hi, y.hi)}, true
			}
		}
	}
	return statusRange{}, false
}

// statusClasses sorts response status codes: the defaults (2xx written;
// 408, 425, 429 and 5xx retried; anything else rejected), overridden by
// retry.on and drop.on.
type statusClasses struct {
	retry, drop []statusRange
}

func (c statusClasses) classify(code int) class {
	switch {
	case inRanges(c.retry, code):
		return classRetry
	case inRanges(c.drop, code):
		return classReject
	case code >= 200 && code <= 299:
		return classWritten
	case code == 408, code == 425, code == 429, code >= 500:
		return classRetry
	}
	return classReject
}

// parseRetryAfter reads a Retry-After header (delta-seconds or an
// HTTP-date) as a wait from now, capped at limit. Anything unreadable, in
// the past or negative is no wait; limit 0 ignores the header.
func parseRetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" || limit <= 0 {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(math.MaxInt64/int64(time.Second)) {
			return limit
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := nethttp.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0
	}
	return min(max(d, 0), limit)
}

// limiter spaces requests at most rate per second (the generic cell rate
// algorithm with a burst of one): each request may start one interval
// after the previous one's slot, and idle time is not banked. Safe for
// concurrent use; the zero interval allows everything.
type limiter struct {
	interval time.Duration
	now      func() time.Time

	mu  sync.Mutex
	tat time.Time // the earliest start of the next request
}

func newLimiter(rate float64) *limiter {
	l := &limiter{now: time.Now}
	if rate > 0 {
		l.interval = time.Duration(float64(time.Second) / rate)
		l.interval = max(l.interval, time.Nanosecond)
	}
	return l
}

// reserve takes the next slot and returns how long to wait for it.
func (l *limiter) reserve() time.Duration {
	if l == nil || l.interval <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.tat.Before(now) {
		l.tat = now
	}
	wait := l.tat.Sub(now)
	l.tat = l.tat.Add(l.interval)
	return wait
}
