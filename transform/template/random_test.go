package template

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestFastPathMatchesLibrary compares the extractor with the JSONPath
// library on random documents and on paths picked from them (most exist,
// some do not), which finds more than the fuzzer's random bytes would.
func TestFastPathMatchesLibrary(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "b", "id", "k e y", "é", `q"uote`, "0", "data"}
	var gen func(depth int) any
	gen = func(depth int) any {
		switch n := r.IntN(9); {
		case (n < 3 && depth < 5) || depth == 0:
			m := map[string]any{}
			for range 1 + r.IntN(5) {
				m[keys[r.IntN(len(keys))]] = gen(depth + 1)
			}
			return m
		case n < 5 && depth < 5:
			a := make([]any, r.IntN(4))
			for i := range a {
				a[i] = gen(depth + 1)
			}
			return a
		case n == 5:
			return r.Float64() * 1000
		case n == 6:
			return strings.Repeat("x\\\"\n\u00e9", r.IntN(3))
		case n == 7:
			return r.IntN(2) == 0
		case n == 8:
			return nil
		default:
			return r.IntN(100)
		}
	}
	found := 0
	for range 3000 {
		doc := gen(0)
		raw, _ := json.MarshalIndent(doc, "", strings.Repeat(" ", r.IntN(2)))
		// Walk down a random branch, sometimes stepping off it.
		var segs []seg
		src := "$"
		v := doc
		for len(segs) < 6 {
			switch x := v.(type) {
			case map[string]any:
				k := keys[r.IntN(len(keys))] // sometimes absent
				if present := slices.Sorted(maps.Keys(x)); r.IntN(5) > 0 && len(present) > 0 {
					k = present[r.IntN(len(present))]
				}
				segs = append(segs, seg{name: k, index: -1})
				src += "['" + strings.ReplaceAll(k, `"`, `\"`) + "']"
				v = x[k]
				continue
			case []any:
				i := r.IntN(len(x) + 1) // sometimes past the end
				segs = append(segs, seg{index: i})
				src += "[" + strconv.Itoa(i) + "]"
				if i < len(x) {
					v = x[i]
				} else {
					v = nil
				}
				continue
			}
			break
		}
		expr, err := parseJSONPath(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := lookup(raw, segs)
		if err != nil {
			t.Fatalf("%s on %s: %v", src, raw, err)
		}
		want, ok := expr.FirstFound(doc)
		if ok != (got != nil) {
			t.Fatalf("%s on %s: fast %s, library found=%v", src, raw, got, ok)
		}
		if !ok {
			continue
		}
		if len(segs) > 1 {
			found++
		}
		var g any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: fast value %s: %v", src, got, err)
		}
		w, _ := json.Marshal(want)
		var wv any
		_ = json.Unmarshal(w, &wv)
		if !reflect.DeepEqual(g, wv) {
			t.Fatalf("%s on %s: fast %s, library %s", src, raw, got, w)
		}
	}
	if found < 500 {
		t.Fatalf("only %d of 3000 paths found a value two or more steps deep; the generator is too sparse", found)
	}
	t.Logf("%d of 3000 paths found a value two or more steps deep", found)
}
