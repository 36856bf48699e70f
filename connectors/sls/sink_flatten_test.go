package sls

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// flattenCases are data whose flattening the walker must get exactly as
// encoding/json's maps do.
var flattenCases = []string{
	`{"a":1,"b":"x"}`,
	`{"b":{"y":2,"x":[1,{"z":true,"a":null}]},"a":"\u00e9\n","c":{}}`,
	`{"dup":1,"dup":{"x":2},"a":{"dup":3,"dup":4}}`,
	`{"\u0061":1,"a":2,"b\"q":"v\\"}`,
	`  {"n":-1.50e+10,"t":true,"f":false,"z":null}  `,
	`"just a string"`, `42`, `[1,2,{"b":1,"a":2}]`, `null`, `true`,
	`{"a":1} trailing`, `{"a":`, `{"bad":"\xff"}`, `{"s":"<&>"}`,
	`{"l1":{"l2":{"l3":{"l4":{"l5":{"l6":{"l7":{"l8":{"l9":1}}}}}}}}}`,
	`{"esc\u002ekey":{"in":"x"},"sp ace":" v "}`,
	`{"a":"\ud800"}`, `{"emoji":"\ud83d\ude00"}`,
	`{ "ws" : { "x" : [ 1 , 2 ] , "y" : "a,b}" } }`,
}

func checkFlatten(t *testing.T, data string) {
	t.Helper()
	for _, prefix := range []string{"", "data"} {
		// Pairs of an earlier record stay ahead in dst, as in a Write.
		earlier := []pair{{"x", "y"}}
		f := flattener{base: 1}
		got, gotErr := f.flatten(earlier, []byte(data), prefix)
		want, wantErr := flattenDecoded(earlier, []byte(data), prefix, 1)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q prefix %q: error %v, want %v", data, prefix, gotErr, wantErr)
		}
		if gotErr == nil && !slices.Equal(got, want) {
			t.Fatalf("%q prefix %q:\n got %q\nwant %q", data, prefix, got, want)
		}
	}
}

func TestFlattenAsMaps(t *testing.T) {
	t.Parallel()
	for _, c := range flattenCases {
		checkFlatten(t, c)
	}
	wide := "{" + strings.Repeat(`"k":1,`, 2000) + `"z":1}`
	checkFlatten(t, wide)
	var many strings.Builder
	many.WriteString("{")
	for i := range maxKeys + 1 {
		fmt.Fprintf(&many, `"k%d":%d,`, i, i)
	}
	many.WriteString(`"z":{}}`)
	checkFlatten(t, many.String())
	// Exactly maxKeys is allowed even after many pairs of earlier records.
	var f flattener
	f.base = 5000
	full := strings.Replace(many.String(), `"k0":0,`, "", 1)
	full = strings.Replace(full, `"k1":1,`, "", 1)
	if _, err := f.flatten(make([]pair, 5000), []byte(full), ""); err != nil {
		t.Fatalf("%d keys after 5000 earlier pairs: %v", maxKeys, err)
	}
}

// FuzzFlatten holds the walker to encoding/json's maps on any input.
func FuzzFlatten(f *testing.F) {
	for _, c := range flattenCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, data string) { checkFlatten(t, data) })
}

func TestFlattenAllocs(t *testing.T) {
	if raceBuild {
		t.Skip("the race detector allocates")
	}
	data := []byte(`{"payload":"some text of an event","seq":12,"task":0,"nested":{"a":"x","b":true}}`)
	var f flattener
	dst := make([]pair, 0, 16)
	f.flatten(dst, data, "data") // fills the key cache
	if n := testing.AllocsPerRun(100, func() { _, _ = f.flatten(dst[:0], data, "data") }); n > 1 {
		t.Fatalf("%v allocations a flatten, want 1 (the data as a string)", n)
	}
}
