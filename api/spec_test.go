package api

import "testing"

func TestRange(t *testing.T) {
	t.Parallel()
	check := Range(1, 100)
	for v, ok := range map[string]bool{
		"1": true, "100": true, "50.5": true, "1e2": true,
		"0": false, "101": false, "-1": false, "": false, "x": false,
		"NaN": false, "nan": false, "Inf": false, "-Inf": false, "+Inf": false, "1e400": false,
	} {
		if err := check(v); (err == nil) != ok {
			t.Errorf("Range(1, 100)(%q) = %v, want ok %v", v, err, ok)
		}
	}
}
