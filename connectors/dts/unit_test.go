package dts_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/dts"
	emu "github.com/ferryhq/ferry/internal/emulator/dts"
)

func validConfig() map[string]string {
	return map[string]string{"brokers": "127.0.0.1:18003", "topic": "t", "sid": "g", "user": "u", "password": "p"}
}

// TestConfigRefusesHostileValues: every bounded setting refuses what is
// out of bounds, naming the field.
func TestConfigRefusesHostileValues(t *testing.T) {
	t.Parallel()
	cases := []struct{ key, value string }{
		{"brokers", ""},
		{"brokers", "host"},
		{"brokers", "h:0"},
		{"brokers", "h:65536"},
		{"brokers", strings.Repeat("h:1,", 101) + "h:1"},
		{"topic", ""},
		{"topic", "a b"},
		{"topic", ".."},
		{"topic", strings.Repeat("t", 250)},
		{"topic", "t\x00"},
		{"sid", strings.Repeat("g", 129)},
		{"sid", "g/../x"},
		{"sid", ""},
		{"user", "u\n"},
		{"user", strings.Repeat("u", 129)},
		{"password", ""},
		{"password", strings.Repeat("p", 1025)},
		{"password", "p\x00q"},
		{"start.timestamp", "-1"},
		{"start.timestamp", "253402300800"},
		{"start.timestamp", "1e9"},
		{"start.timestamp", "99999999999999999999"},
		{"table.include.list", "(["},
		{"table.exclude.list", strings.Repeat("a", 1025)},
		{"table.include.list", strings.Repeat("a,", 257) + "a"},
		{"provide.transaction.metadata", "yes please"},
		{"batch.size", "0"},
		{"batch.size", "1048577"},
		{"fetch.max.bytes", "1023"},
		{"fetch.max.bytes", "268435457"},
		{"fetch.max.wait", "0s"},
		{"fetch.max.wait", "31s"},
		{"dial.timeout", "1ms"},
		{"dial.timeout", "-5s"},
	}
	for _, c := range cases {
		raw := validConfig()
		raw[c.key] = c.value
		_, err := dts.Source.Spec.Parse(raw)
		var ve *api.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) == 0 || ve.Fields[0].Field != c.key {
			t.Errorf("%s=%.40q: %v; want a validation error naming %s", c.key, c.value, err, c.key)
		}
	}
	if _, err := dts.Source.Spec.Parse(validConfig()); err != nil {
		t.Fatalf("the valid config: %v", err)
	}
}

func TestConfigRefusesBothTableLists(t *testing.T) {
	t.Parallel()
	raw := validConfig()
	raw["table.include.list"], raw["table.exclude.list"] = `shop\..*`, `shop\.tmp`
	c, err := dts.Source.Spec.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var ve *api.ValidationError
	if err := dts.Source.Validate(c); !errors.As(err, &ve) || ve.Fields[0].Field != "table.exclude.list" {
		t.Fatalf("Validate: %v; want an error naming table.exclude.list", err)
	}
}

func TestPasswordIsSecret(t *testing.T) {
	t.Parallel()
	if got := dts.Source.Spec.Redact(validConfig())["password"]; got != api.Redacted {
		t.Fatalf("redacted password %q", got)
	}
}

// TestBadStoredPosition: a position this source did not write fails the
// task at once.
func TestBadStoredPosition(t *testing.T) {
	t.Parallel()
	c, err := dts.Source.Spec.Parse(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, pos := range []string{`42`, `{"ts":-1,"offset":0,"id":1}`, `{"ts":1,"offset":-4,"id":1}`, `not json`} {
		_, err := dts.Source.New(api.TaskConfig{Connector: "x", Config: c, Committed: map[string]api.Position{"t-0": api.Position(pos)}})
		if !errors.Is(err, dts.ErrBadPosition) || !api.IsFatal(err) {
			t.Errorf("position %s: %v, want a fatal ErrBadPosition", pos, err)
		}
	}
	_, err = dts.Source.New(api.TaskConfig{Connector: "x", Config: c, Committed: map[string]api.Position{"other-0": api.Position(`{"ts":1,"offset":0,"id":1}`)}})
	if !errors.Is(err, dts.ErrBadPosition) {
		t.Errorf("a position of another topic: %v, want ErrBadPosition", err)
	}
}

func FuzzDecodePosition(f *testing.F) {
	f.Add([]byte(`{"ts":1763800000,"offset":41,"id":42,"store":"c"}`))
	f.Add([]byte(`{"ts":1e300}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = dts.DecodePosition(b) // must not panic
	})
}

// FuzzDecodeRecord feeds the decoder and renderer corrupt record values:
// an error or JSON, never a panic or invalid JSON.
func FuzzDecodeRecord(f *testing.F) {
	at := time.Unix(1_763_800_000, 0)
	for _, c := range []emu.Change{
		insert(1, "héllo", at), update(1, "a", "b", at), del(1, "x", at),
		emu.DDLChange(at, "d", "t", "CREATE TABLE t (id INT)"), emu.HeartbeatAt(at),
	} {
		b, err := emu.Encode(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := dts.DecodeRecordJSON(b)
		if err == nil && out != nil && !json.Valid(out) {
			t.Fatalf("invalid JSON %q", out)
		}
	})
}
