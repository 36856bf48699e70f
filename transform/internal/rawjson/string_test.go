package rawjson_test

import (
	"math/rand/v2"
	"testing"

	"github.com/ferryhq/ferry/transform/internal/rawjson"
)

// refString is String's definition, one byte at a time.
func refString(b []byte, i int) (end int, escaped, ok bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j, escaped, true
		case '\\':
			escaped = true
			j++
		}
	}
	return 0, false, false
}

// TestStringAgreesWithByteWalk compares String, which tests eight bytes at
// a time, with the byte walk on random strings rich in quotes,
// backslashes, bytes >= 0x80 and their neighbours, at every length across
// the word and short-string boundaries.
func TestStringAgreesWithByteWalk(t *testing.T) {
	alphabet := []byte{'"', '\\', 'a', 0x00, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		n := 1 + rng.IntN(60)
		b := make([]byte, n)
		b[0] = '"'
		for k := 1; k < n; k++ {
			if rng.IntN(4) == 0 {
				b[k] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[k] = 'x'
			}
		}
		e1, x1, ok1 := rawjson.String(b, 0)
		e2, x2, ok2 := refString(b, 0)
		if e1 != e2 || x1 != x2 || ok1 != ok2 {
			t.Fatalf("String(%q) = %d %v %v, want %d %v %v", b, e1, x1, ok1, e2, x2, ok2)
		}
	}
}
