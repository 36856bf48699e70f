package pattern_test

import (
	"testing"

	"github.com/ferryhq/ferry/transform/pattern"
)

// TestMatchRejectsWhatItReads: every token the scan reads is checked as
// JSON, including literals it skips and keys or strings with escapes, so
// malformed data before the decision is an error rather than a match.
func TestMatchRejectsWhatItReads(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, pattern, data string }{
		{"skipped bad literal", `{"data": {"z": ["x"]}}`, `{"a": tru, "z": "x"}`},
		{"skipped glued literal", `{"data": {"z": ["x"]}}`, `{"a": 1x, "z": "x"}`},
		{"skipped colon", `{"data": {"z": ["x"]}}`, `{"a": :, "z": "x"}`},
		{"bad escape in a key", `{"data": {"z": ["x"]}}`, `{"k\q": 1, "z": "x"}`},
		{"bad escape in a tested string", `{"data": {"z": [{"exists": true}]}}`, `{"z": "\q"}`},
		{"leading zero", `{"data": {"n": [{"numeric": [">", 0]}]}}`, `{"n": 01}`},
		{"no digit after the point", `{"data": {"n": [{"numeric": [">", 0]}]}}`, `{"n": 1.}`},
		{"out of range", `{"data": {"n": [{"numeric": [">", 0]}]}}`, `{"n": 1e400}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, err := pattern.MustCompile(tc.pattern).Match(event(tc.data))
			if err == nil {
				t.Errorf("Match(%s) = %v, want an error", tc.data, ok)
			}
		})
	}
	// Escapes that are well formed are decoded, in keys and values alike.
	p := pattern.MustCompile(`{"data": {"ké": ["\"é"]}}`)
	if ok, err := p.Match(event(`{"k\u00e9": "\"\u00E9"}`)); !ok || err != nil {
		t.Errorf("escaped key and value: %v, %v", ok, err)
	}
}
