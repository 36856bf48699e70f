package api

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ParseTime parses an event's time attribute as the EventBridge engines
// take it, so that events EventBridge itself emits are not refused:
//
//   - RFC 3339, as CloudEvents requires: 2020-11-19T21:04:41+08:00,
//     2022-09-21T05:00:00.035Z;
//   - what Java's ISO_OFFSET_DATE_TIME parses (the CloudEvents SDK that
//     apache/rocketmq-eventbridge decodes events with): seconds may be
//     left out (2020-11-19T21:04+08:00), the offset may carry seconds
//     (+08:00:00), and T and Z may be lower case;
//   - ISO_ZONED_DATE_TIME (rocketmq-eventbridge's HTTP source): the above
//     followed by a region in brackets, 2020-11-19T21:04:41+08:00[Asia/Shanghai];
//     the offset gives the instant, the region must exist;
//   - Alibaba EventBridge's own form, a local date-time followed by a
//     region: 2020-08-17T16:04:46.149Asia/Shanghai, 2020-11-19T21:04:42.179PRC,
//     read in that region's rules;
//   - a local date-time with no zone at all (2020-08-17T18:23:00, as in
//     rocketmq-eventbridge's pattern tests), read as UTC.
//
// Beyond RFC 3339 (where Go's parser takes any number of fraction digits
// and keeps nanoseconds), fractions have one to nine digits. Dates and times are checked as Java
// checks them: no February 30, no hour 24, no second 60. A region is a
// name in the time-zone database (never "Local", which would make the
// instant depend on the host). Anything else — epoch numbers included —
// is an error.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil // the common case
	}
	t, err := parseEventBridgeTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing time %q: %w", clip(s), err)
	}
	return t, nil
}

// maxZoneName bounds a region name; the longest in the time-zone
// database is 32 bytes (America/Argentina/ComodRivadavia).
const maxZoneName = 64

var (
	errTimeSyntax = errors.New("not an RFC 3339 or EventBridge time")
	errTimeRange  = errors.New("date or time out of range")
	errTimeZone   = errors.New("unknown time zone")
)

func parseEventBridgeTime(s string) (time.Time, error) {
	// yyyy-mm-ddThh:mm
	if len(s) < 16 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' {
		return time.Time{}, errTimeSyntax
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return time.Time{}, errTimeSyntax
	}
	i, sec, nsec := 16, 0, 0
	if i < len(s) && s[i] == ':' {
		var ok bool
		if len(s) < i+3 {
			return time.Time{}, errTimeSyntax
		}
		if sec, ok = digits(s[i+1 : i+3]); !ok {
			return time.Time{}, errTimeSyntax
		}
		i += 3
		if i < len(s) && s[i] == '.' {
			j := i + 1
			for j < len(s) && j-i <= 9 && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 || (j < len(s) && s[j] >= '0' && s[j] <= '9') {
				return time.Time{}, errTimeSyntax // no digits, or more than nine
			}
			nsec, _ = digits(s[i+1 : j])
			for k := j - i - 1; k < 9; k++ {
				nsec *= 10
			}
			i = j
		}
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, errTimeRange
	}
	zone := s[i:]
	local := func(loc *time.Location) time.Time {
		return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	}
	switch {
	case zone == "":
		return local(time.UTC), nil
	case zone == "Z" || zone == "z":
		return local(time.UTC), nil
	case zone[0] == '+' || zone[0] == '-':
		off, n, err := parseOffset(zone)
		if err != nil {
			return time.Time{}, err
		}
		if rest := zone[n:]; rest != "" {
			// ISO_ZONED_DATE_TIME: a bracketed region after the offset.
			if len(rest) < 3 || rest[0] != '[' || rest[len(rest)-1] != ']' {
				return time.Time{}, errTimeSyntax
			}
			if _, err := zoneLocation(rest[1 : len(rest)-1]); err != nil {
				return time.Time{}, err
			}
		}
		return local(time.FixedZone("", off)), nil
	case (zone[0] == 'Z' || zone[0] == 'z') && len(zone) > 2 && zone[1] == '[' && zone[len(zone)-1] == ']':
		if _, err := zoneLocation(zone[2 : len(zone)-1]); err != nil {
			return time.Time{}, err
		}
		return local(time.UTC), nil
	}
	loc, err := zoneLocation(zone)
	if err != nil {
		return time.Time{}, err
	}
	return local(loc), nil
}

// parseOffset parses ±hh:mm or ±hh:mm:ss at the start of z, returning the
// offset in seconds and the bytes it took.
func parseOffset(z string) (int, int, error) {
	if len(z) < 6 || z[3] != ':' {
		return 0, 0, errTimeSyntax
	}
	h, ok1 := digits(z[1:3])
	m, ok2 := digits(z[4:6])
	if !ok1 || !ok2 {
		return 0, 0, errTimeSyntax
	}
	sec, n := 0, 6
	if len(z) >= 9 && z[6] == ':' {
		var ok bool
		if sec, ok = digits(z[7:9]); !ok {
			return 0, 0, errTimeSyntax
		}
		n = 9
	}
	if h > 18 || m > 59 || sec > 59 || (h == 18 && (m > 0 || sec > 0)) {
		return 0, 0, errTimeRange // java.time's bound: ±18:00
	}
	off := h*3600 + m*60 + sec
	if z[0] == '-' {
		off = -off
	}
	return off, n, nil
}

// zones caches the regions found, so a stream of events in one region
// reads the time-zone database once. Only names LoadLocation accepted are
// kept, and the database has some six hundred, so it stays small.
var zones sync.Map // string → *time.Location

// zoneLocation returns the time-zone database's region called name.
func zoneLocation(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if !validZoneName(name) {
		return nil, errTimeZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errTimeZone
	}
	zones.Store(name, loc)
	return loc, nil
}

// validZoneName admits the shape of a time-zone database name (Java's
// ZoneId region rule: a letter, then letters, digits and ~/._+-), and not
// "Local", which time.LoadLocation would read as the host's zone.
func validZoneName(name string) bool {
	if name == "" || len(name) > maxZoneName || name == "Local" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '~' || c == '/' || c == '.' || c == '_' || c == '+' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// digits parses s, one to nine ASCII digits.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
