package kit_test

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/connectors/kit"
)

func TestParseStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want kit.Start
		err  string
	}{
		{"first", kit.Start{Kind: "first"}, ""},
		{"last", kit.Start{Kind: "last"}, ""},
		{"timestamp:0", kit.Start{Kind: "timestamp"}, ""},
		{"timestamp:1700000000000", kit.Start{Kind: "timestamp", Ms: 1700000000000}, ""},
		{"earliest", kit.Start{}, `want first, last or timestamp`},
		{"", kit.Start{}, `want first, last or timestamp`},
		{"timestamp:", kit.Start{}, "want milliseconds"},
		{"timestamp:-1", kit.Start{}, "want milliseconds"},
		{"timestamp:253402300800000", kit.Start{}, "want milliseconds"},
		{"timestamp:99999999999999999999", kit.Start{}, "want milliseconds"},
		{"timestamp:1e3", kit.Start{}, "want milliseconds"},
	} {
		got, err := kit.ParseStart(tc.in, "first", "last")
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) || got != tc.want {
			t.Errorf("ParseStart(%q) = %+v, %v; want %+v, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}
