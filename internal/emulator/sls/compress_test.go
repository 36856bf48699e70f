package sls

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/pierrec/lz4/v4"
)

func TestCompressRoundTrip(t *testing.T) {
	t.Parallel()
	random := make([]byte, 4096)
	_, _ = rand.Read(random)
	inputs := map[string][]byte{
		"empty":          {},
		"short":          []byte("abc"),
		"repetitive":     bytes.Repeat([]byte("ferry sls "), 1000),
		"incompressible": random,
	}
	for _, kind := range []string{compressLZ4, compressZstd, compressDeflate} {
		for name, in := range inputs {
			t.Run(kind+"/"+name, func(t *testing.T) {
				t.Parallel()
				packed, err := compress(kind, in)
				if err != nil {
					t.Fatal(err)
				}
				got, err := decompress(kind, packed, len(in))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, in) {
					t.Fatalf("round trip changed %d bytes into %d", len(in), len(got))
				}
			})
		}
	}
}

func TestLZ4LiteralBlock(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 14, 15, 16, 269, 270, 271, 1000, 70000} {
		src := make([]byte, n)
		_, _ = rand.Read(src)
		dst := make([]byte, n)
		got, err := lz4.UncompressBlock(lz4LiteralBlock(src), dst)
		if n == 0 {
			// An empty block is a lone zero token; nothing to check.
			continue
		}
		if err != nil || got != n || !bytes.Equal(dst, src) {
			t.Fatalf("n=%d: decoded %d bytes, err %v", n, got, err)
		}
	}
}

func TestDecompressRejects(t *testing.T) {
	t.Parallel()
	lz, _ := compress(compressLZ4, []byte("hello hello hello hello"))
	tests := []struct {
		name, kind string
		body       []byte
		rawSize    int
	}{
		{"unknown kind", "snappy", []byte("x"), 1},
		{"size mismatch none", compressNone, []byte("abc"), 4},
		{"lz4 garbage", compressLZ4, []byte{0xff, 0xff, 0xff}, 10},
		{"lz4 raw size too small", compressLZ4, lz, 5},
		{"zstd garbage", compressZstd, []byte("not zstd"), 8},
		{"deflate garbage", compressDeflate, []byte("not zlib"), 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := decompress(tt.kind, tt.body, tt.rawSize); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestCursor(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 42, 1 << 40} {
		if got, ok := decodeCursor(encodeCursor(n)); !ok || got != n {
			t.Fatalf("cursor %d round trip = %d, %v", n, got, ok)
		}
	}
	for _, bad := range []string{"", "!!", "LTE=" /* -1 */, "YWJj" /* abc */} {
		if _, ok := decodeCursor(bad); ok {
			t.Fatalf("decodeCursor(%q) accepted", bad)
		}
	}
}
