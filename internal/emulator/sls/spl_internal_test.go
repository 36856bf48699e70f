package sls

import "testing"

// FuzzParseSPL: no query makes the parser or an accepted query's run
// panic.
func FuzzParseSPL(f *testing.F) {
	for _, q := range []string{"*", "* | where a = 'b'", `* | where "x y" != 'it''s' and __topic__ = 't' | project a, b`,
		"* | project a | where a = ''", "* | where a = 'x", "* |"} {
		f.Add(q)
	}
	g := LogGroup{Topic: "t", Logs: []Log{{Contents: []Pair{{"a", "b"}, {"x y", "it's"}}}, {Contents: []Pair{{"a", ""}}}}}
	f.Fuzz(func(t *testing.T, q string) {
		if p, err := parseSPL(q); err == nil {
			_ = p.apply(g)
		}
	})
}
