package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FieldType is the type of a config field's value. Every value arrives as a
// string (the Kafka Connect envelope); the type says how it must parse.
type FieldType string

// Field types.
const (
	TypeString   FieldType = "string"
	TypeInt      FieldType = "int"
	TypeFloat    FieldType = "float"
	TypeBool     FieldType = "boolean"
	TypeDuration FieldType = "duration" // Go duration ("5s") or integer milliseconds
	TypeList     FieldType = "list"     // comma-separated, items trimmed
	TypeJSON     FieldType = "json"     // one JSON value
)

// Redacted replaces secret values wherever a config is shown.
const Redacted = "[hidden]"

// Field declares one setting of a plugin. Name is relative to the plugin's
// prefix ("path" for "sink.path").
type Field struct {
	Name        string
	Type        FieldType
	Description string
	// Default applies when the field is absent. Ignored when Required.
	Default  string
	Required bool
	// Secret values are resolved from ${env:…}/${file:…} references at task
	// start and redacted in every response and log line.
	Secret bool
	// Enum, when set, lists the only accepted values.
	Enum []string
	// Check, when set, validates the typed value after type parsing; it
	// returns a message for the user, such as "must be at least 1".
	Check func(value string) error
	// Prefix declares a family of keys rather than one: Name ends with a
	// dot ("headers.", "producer.") and every key that starts with it and
	// goes on is this field's — a map of headers, or a client library's
	// own properties passed through. Type, Secret, Enum and Check apply to
	// each value; Required and Default do not. Keys no field declares are
	// refused (the worker suggests the closest declared one).
	Prefix bool
}

// Spec declares every field of a plugin. Parsing, validation, the REST
// validate endpoint, generated docs and secret redaction all derive from it.
type Spec []Field

// Lookup returns the field called name, or the Prefix field whose family
// name belongs to.
func (s Spec) Lookup(name string) (Field, bool) {
	for _, f := range s {
		if f.Name == name && !f.Prefix {
			return f, true
		}
	}
	for _, f := range s {
		if f.Prefix && len(name) > len(f.Name) && strings.HasPrefix(name, f.Name) {
			return f, true
		}
	}
	return Field{}, false
}

// Parse validates raw (keys relative to the plugin's prefix) against the
// spec and returns the typed view. Keys the spec does not declare are kept,
// so plugins can pass settings through to a client library. The error is a
// *ValidationError naming every bad field.
func (s Spec) Parse(raw map[string]string) (Config, error) {
	values := make(map[string]string, len(raw)+len(s))
	for k, v := range raw {
		values[k] = v
	}
	var errs []FieldError
	for _, f := range s {
		if f.Prefix {
			for _, k := range slices.Sorted(maps.Keys(raw)) {
				if len(k) > len(f.Name) && strings.HasPrefix(k, f.Name) {
					if msg := f.check(raw[k]); msg != "" {
						errs = append(errs, FieldError{Field: k, Message: msg})
					}
				}
			}
			continue
		}
		v, ok := values[f.Name]
		if !ok || (v == "" && f.Type != TypeString) {
			if f.Required {
				errs = append(errs, FieldError{Field: f.Name, Message: "is required"})
				continue
			}
			if f.Default == "" {
				delete(values, f.Name)
				continue
			}
			v = f.Default
			values[f.Name] = v
		}
		if f.Required && v == "" {
			errs = append(errs, FieldError{Field: f.Name, Message: "is required"})
			continue
		}
		if msg := f.check(v); msg != "" {
			errs = append(errs, FieldError{Field: f.Name, Message: msg})
		}
	}
	if errs != nil {
		return Config{}, &ValidationError{Fields: errs}
	}
	return Config{values: values}, nil
}

// check returns a user-facing message when v is not a valid value of f.
func (f Field) check(v string) string {
	if IsReference(v) {
		return "" // resolved and checked at task start
	}
	switch f.Type {
	case TypeInt:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Sprintf("must be an integer, got %q", v)
		}
	case TypeFloat:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Sprintf("must be a number, got %q", v)
		}
	case TypeBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Sprintf("must be true or false, got %q", v)
		}
	case TypeDuration:
		if _, err := parseDuration(v); err != nil {
			return fmt.Sprintf("must be a duration such as 5s or 500ms, or integer milliseconds, got %q", v)
		}
	case TypeJSON:
		if !json.Valid([]byte(v)) {
			return "must be valid JSON"
		}
	}
	if len(f.Enum) > 0 && !slices.Contains(f.Enum, v) {
		return fmt.Sprintf("must be one of %s, got %q", strings.Join(f.Enum, ", "), v)
	}
	if f.Check != nil {
		if err := f.Check(v); err != nil {
			return err.Error()
		}
	}
	return ""
}

// Redact returns a copy of raw with the values of secret fields replaced by
// Redacted. References (${env:…}, ${file:…}) are not secrets and are kept.
func (s Spec) Redact(raw map[string]string) map[string]string {
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if f, ok := s.Lookup(k); ok && f.Secret && v != "" && !IsReference(v) {
			v = Redacted
		}
		out[k] = v
	}
	return out
}

// referenceKinds are the secret providers a reference may name.
var referenceKinds = [...]string{"${env:", "${file:", "${dir:"}

// IsReference reports whether v is exactly one secret reference, such as
// ${env:NAME}, ${file:/path:key} or ${dir:/path:key}, resolved only when a
// task starts. A value that mixes a reference with other text is not one:
// its literal part is shown, so it is redacted whole.
func IsReference(v string) bool {
	if !strings.HasSuffix(v, "}") || strings.IndexByte(v, '}') != len(v)-1 {
		return false
	}
	for _, k := range referenceKinds {
		if strings.HasPrefix(v, k) {
			return true
		}
	}
	return false
}

// HasReference reports whether v contains a secret reference anywhere.
func HasReference(v string) bool {
	for _, k := range referenceKinds {
		if strings.Contains(v, k) {
			return true
		}
	}
	return false
}

func parseDuration(v string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		if ms > math.MaxInt64/int64(time.Millisecond) || ms < math.MinInt64/int64(time.Millisecond) {
			return 0, fmt.Errorf("%d milliseconds is out of range", ms)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	return time.ParseDuration(v)
}

// DurationRange returns a Check accepting durations (milliseconds or Go
// duration strings, as TypeDuration) in [min, max].
func DurationRange(min, max time.Duration) func(string) error {
	return func(v string) error {
		d, err := parseDuration(v)
		if err != nil || d < min || d > max {
			return fmt.Errorf("must be between %v and %v", min, max)
		}
		return nil
	}
}

// Range returns a Check accepting numbers in [min, max].
func Range(min, max float64) func(string) error {
	return func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= min && f <= max) { // NaN is in no range
			return fmt.Errorf("must be between %s and %s", strconv.FormatFloat(min, 'f', -1, 64), strconv.FormatFloat(max, 'f', -1, 64))
		}
		return nil
	}
}

// MaxLen returns a Check accepting values of at most n bytes.
func MaxLen(n int) func(string) error {
	return func(v string) error {
		if len(v) > n {
			return fmt.Errorf("must be at most %d bytes long", n)
		}
		return nil
	}
}

// Config is a plugin's parsed settings. Accessors assume the spec validated
// the value; for undeclared or absent keys they return the zero value.
type Config struct {
	values map[string]string
}

// NewConfig builds a Config from already validated values, for tests and
// for plugins composed of other plugins.
func NewConfig(values map[string]string) Config {
	return Config{values: values}
}

// Has reports whether name has a value (given or defaulted).
func (c Config) Has(name string) bool { _, ok := c.values[name]; return ok }

// String returns the value of name.
func (c Config) String(name string) string { return c.values[name] }

// Int returns the value of name as an int.
func (c Config) Int(name string) int {
	n, _ := strconv.ParseInt(c.values[name], 10, 64)
	return int(n)
}

// Float returns the value of name as a float64.
func (c Config) Float(name string) float64 {
	f, _ := strconv.ParseFloat(c.values[name], 64)
	return f
}

// Bool returns the value of name as a bool.
func (c Config) Bool(name string) bool {
	b, _ := strconv.ParseBool(c.values[name])
	return b
}

// Duration returns the value of name as a duration.
func (c Config) Duration(name string) time.Duration {
	d, _ := parseDuration(c.values[name])
	return d
}

// List returns the comma-separated items of name, trimmed, empty items
// dropped.
func (c Config) List(name string) []string {
	v := c.values[name]
	if v == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Prefix returns the settings whose keys start with prefix, prefix removed
// (for pass-through settings such as a client library's properties).
func (c Config) Prefix(prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range c.values {
		if strings.HasPrefix(k, prefix) {
			out[strings.TrimPrefix(k, prefix)] = v
		}
	}
	return out
}

// Map returns a copy of every setting.
func (c Config) Map() map[string]string {
	out := make(map[string]string, len(c.values))
	for k, v := range c.values {
		out[k] = v
	}
	return out
}
