package sls

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Body compressions as named by x-log-compresstype and Accept-Encoding.
const (
	compressNone    = ""
	compressLZ4     = "lz4"
	compressZstd    = "zstd"
	compressDeflate = "deflate"
)

// zstd coders are safe for concurrent EncodeAll/DecodeAll and costly to
// build, so one pair serves every server in the process. Concurrency 1 keeps
// them from starting goroutines of their own.
var zstdCoders = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(fmt.Sprintf("sls: zstd encoder: %v", err))
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxRawSizeLimit))
	if err != nil {
		panic(fmt.Sprintf("sls: zstd decoder: %v", err))
	}
	return enc, dec
})

// decompress inflates a request body. rawSize is x-log-bodyrawsize, which SLS
// requires to match the inflated length exactly; it also bounds the memory a
// hostile body can make us allocate (the caller caps it).
func decompress(kind string, body []byte, rawSize int) ([]byte, error) {
	var out []byte
	switch kind {
	case compressNone:
		out = body
	case compressLZ4:
		out = make([]byte, rawSize)
		n, err := lz4.UncompressBlock(body, out)
		if err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		out = out[:n]
	case compressZstd:
		_, dec := zstdCoders()
		// Decoding into a buffer of exactly rawSize capacity, and refusing a
		// frame that declares more, keeps a zstd bomb from growing past it.
		if h := (zstd.Header{}); h.Decode(body) == nil && h.HasFCS && h.FrameContentSize > uint64(rawSize) {
			return nil, fmt.Errorf("zstd frame declares %d bytes, x-log-bodyrawsize is %d", h.FrameContentSize, rawSize)
		}
		var err error
		out, err = dec.DecodeAll(body, make([]byte, 0, rawSize))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
	case compressDeflate:
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
		out, err = io.ReadAll(io.LimitReader(zr, int64(rawSize)+1))
		if err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
	default:
		return nil, fmt.Errorf("unsupported compress type %q", kind)
	}
	if len(out) != rawSize {
		return nil, fmt.Errorf("body inflates to %d bytes, x-log-bodyrawsize says %d", len(out), rawSize)
	}
	return out, nil
}

// compress packs a PullLogs response body in the encoding the client asked
// for: lz4 (the SDK's default), zstd, or deflate (zlib, as SLS names it).
func compress(kind string, raw []byte) ([]byte, error) {
	switch kind {
	case compressDeflate:
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		if _, err := zw.Write(raw); err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
		return buf.Bytes(), nil
	case compressLZ4:
		out := make([]byte, lz4.CompressBlockBound(len(raw)))
		n, err := lz4.CompressBlock(raw, out, nil)
		if err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		if n == 0 && len(raw) > 0 {
			// The library gives up on incompressible input; a block made
			// of one literal run is still valid LZ4 that any decoder reads.
			return lz4LiteralBlock(raw), nil
		}
		return out[:n], nil
	case compressZstd:
		enc, _ := zstdCoders()
		return enc.EncodeAll(raw, nil), nil
	default:
		return nil, fmt.Errorf("unsupported compress type %q", kind)
	}
}

// lz4LiteralBlock encodes src as a single LZ4 sequence with no match: a token
// whose high nibble is the literal length (15 meaning "more bytes follow",
// each 255 adding 255 until a smaller one ends it), then the literals.
func lz4LiteralBlock(src []byte) []byte {
	out := make([]byte, 0, len(src)+len(src)/255+2)
	n := len(src)
	if n < 15 {
		out = append(out, byte(n<<4))
	} else {
		out = append(out, 0xF0)
		for n -= 15; n >= 255; n -= 255 {
			out = append(out, 255)
		}
		out = append(out, byte(n))
	}
	return append(out, src...)
}
