package gctune

import (
	"strings"
	"testing"
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
		{"defaults", Request{}, env(), 8 * gib, Settings{Percent: 400, Limit: 6 * gib, PercentSrc: "default", LimitSrc: "auto"}, ""},
		{"unknown memory", Request{}, env(), 0, Settings{Percent: 400, PercentSrc: "default", LimitSrc: "none"}, ""},
		{"flags", Request{Percent: 200, Limit: "512MiB"}, env(), 8 * gib, Settings{Percent: 200, Limit: 512 << 20, PercentSrc: "flag", LimitSrc: "flag"}, ""},
		{"limit off", Request{Limit: "off"}, env(), 8 * gib, Settings{Percent: 400, PercentSrc: "default", LimitSrc: "none"}, ""},
		{"GOGC wins over the flag", Request{Percent: 200}, env("GOGC", "50"), 8 * gib, Settings{Percent: 50, Limit: 6 * gib, PercentSrc: "GOGC", LimitSrc: "auto"}, ""},
		{"GOGC off", Request{}, env("GOGC", "off"), 8 * gib, Settings{Percent: -1, Limit: 6 * gib, PercentSrc: "GOGC", LimitSrc: "auto"}, ""},
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
