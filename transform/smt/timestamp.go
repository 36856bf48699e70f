package smt

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
)

// TimestampConverter converts a timestamp field, or the whole data,
// between strings, Unix numbers and Kafka's Timestamp/Date/Time
// representations (Kafka's TimestampConverter$Value).
var TimestampConverter = api.TransformPlugin{
	Name:    "timestamp-converter",
	Summary: "Convert a timestamp field or the whole data between formatted strings and Unix numbers (Kafka TimestampConverter).",
	Spec: api.Spec{
		{Name: "field", Type: api.TypeString,
			Description: "Field holding the timestamp; dots address nested fields. Empty converts the whole data."},
		{Name: "target.type", Type: api.TypeString, Required: true, Enum: []string{"string", "unix", "Timestamp", "Date", "Time"},
			Description: "Output: string (formatted), unix (number in unix.precision), Timestamp (epoch milliseconds), Date (epoch milliseconds of the UTC day's midnight), Time (milliseconds since UTC midnight)."},
		{Name: "format", Type: api.TypeString, Check: checkJavaFormat,
			Description: "Java SimpleDateFormat pattern (as in Kafka) for string input and output, e.g. yyyy-MM-dd'T'HH:mm:ss.SSSXXX; times are in UTC. Default RFC 3339."},
		{Name: "layout", Type: api.TypeString, Check: checkGoLayout,
			Description: "Go time layout instead of format, e.g. 2006-01-02 15:04:05."},
		{Name: "unix.precision", Type: api.TypeString, Default: "milliseconds", Enum: []string{"seconds", "milliseconds", "microseconds", "nanoseconds"},
			Description: "Unit of Unix numbers, both read (every number input is a Unix time) and written (target.type unix)."},
	},
	New: newTimestampConverter,
}

func checkJavaFormat(v string) error {
	_, err := javaLayout(v)
	return err
}

// refTime is the instant layouts are checked against.
var refTime = time.Date(2026, 11, 23, 8, 9, 10, 123456789, time.UTC)

func checkGoLayout(v string) error {
	s := refTime.Format(v)
	if s == v {
		return errors.New("has no time elements (Go layouts use the reference time 2006-01-02 15:04:05)")
	}
	if _, err := time.Parse(v, s); err != nil {
		return fmt.Errorf("cannot parse its own output: %v", err)
	}
	return nil
}

type timestampConverter struct {
	*codec
	field, target, layout string
	unit                  time.Duration
}

func newTimestampConverter(c api.Config) (api.Transform, error) {
	t := &timestampConverter{codec: newCodec(), field: c.String("field"), target: c.String("target.type"), layout: time.RFC3339Nano}
	switch {
	case c.String("format") != "" && c.String("layout") != "":
		return nil, configError("layout", "set format or layout, not both")
	case c.String("format") != "":
		l, err := javaLayout(c.String("format"))
		if err != nil {
			return nil, configError("format", err.Error())
		}
		t.layout = l
	case c.String("layout") != "":
		t.layout = c.String("layout")
	}
	t.unit = map[string]time.Duration{"seconds": time.Second, "milliseconds": time.Millisecond,
		"microseconds": time.Microsecond, "nanoseconds": time.Nanosecond}[c.String("unix.precision")]
	if t.unit == 0 {
		t.unit = time.Millisecond
	}
	return t, nil
}

// Apply converts. A missing field fails the record; a null value stays
// null; null data passes through.
func (t *timestampConverter) Apply(r *api.Record) (bool, error) {
	v, err := decode(&r.Event)
	if err != nil || v == nil {
		return err == nil, recordError(TimestampConverter.Name, "", err)
	}
	if t.field == "" {
		if v, err = t.convert(v); err != nil {
			return false, recordError(TimestampConverter.Name, "", err)
		}
	} else {
		obj, err := asObject(v)
		if err != nil {
			return false, recordError(TimestampConverter.Name, "", err)
		}
		p, i, ok := lookup(obj, t.field)
		if !ok {
			return false, recordError(TimestampConverter.Name, t.field, ErrMissingField)
		}
		if p.vals[i], err = t.convert(p.vals[i]); err != nil {
			return false, recordError(TimestampConverter.Name, t.field, err)
		}
	}
	if err := t.setData(&r.Event, v); err != nil {
		return false, recordError(TimestampConverter.Name, "", err)
	}
	return true, nil
}

func (t *timestampConverter) convert(v any) (any, error) {
	var ts time.Time
	switch x := v.(type) {
	case nil:
		return nil, nil
	case json.Number:
		var err error
		if ts, err = t.fromUnix(x.String()); err != nil {
			return nil, err
		}
	case string:
		var err error
		if ts, err = time.Parse(t.layout, x); err != nil {
			return nil, fmt.Errorf("%w: %q does not match the format: %v", ErrConvert, x, err)
		}
	default:
		return nil, fmt.Errorf("%w: a %s is not a timestamp", ErrConvert, kindOf(v))
	}
	ts = ts.UTC()
	ms := func(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }
	switch t.target {
	case "string":
		return ts.Format(t.layout), nil
	case "unix":
		switch t.unit {
		case time.Second:
			return ms(ts.Unix()), nil
		case time.Millisecond:
			return ms(ts.UnixMilli()), nil
		case time.Microsecond:
			return ms(ts.UnixMicro()), nil
		default:
			return ms(ts.UnixNano()), nil
		}
	case "Date":
		return ms(ts.Truncate(24 * time.Hour).UnixMilli()), nil
	case "Time":
		return ms(ts.Sub(ts.Truncate(24 * time.Hour)).Milliseconds()), nil
	default: // Timestamp
		return ms(ts.UnixMilli()), nil
	}
}

// fromUnix reads a Unix time in the configured unit; integers are exact,
// decimals (1700000000.5 seconds) are accepted to microsecond accuracy.
func (t *timestampConverter) fromUnix(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch t.unit {
		case time.Second:
			return time.Unix(n, 0), nil
		case time.Millisecond:
			return time.UnixMilli(n), nil
		case time.Microsecond:
			return time.UnixMicro(n), nil
		default:
			return time.Unix(0, n), nil
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	ns := f * float64(t.unit)
	if t.unit >= time.Microsecond {
		// Rounding to whole microseconds absorbs the binary error of a
		// decimal such as 1795421350.123 (seconds).
		ns = math.Round(f*float64(t.unit/time.Microsecond)) * 1e3
	}
	if err != nil || math.IsNaN(ns) || ns < math.MinInt64 || ns >= math.MaxInt64 {
		return time.Time{}, fmt.Errorf("%w: %s is not a Unix time in %v units", ErrConvert, s, t.unit)
	}
	return time.Unix(0, int64(math.Round(ns))), nil
}
