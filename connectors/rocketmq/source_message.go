package rocketmq

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// A pull answer's body is the broker's stored messages back to back, each
// in the commit log's format (MessageDecoder in the Java sources). The
// source decodes it itself rather than with primitive.DecodeMessage, which
// reads field by field through reflection, formats both host addresses on
// every message and does not check lengths: a short or corrupt body would
// be read past its end.
const (
	magicV1 = 0xdaa320a7 // topic length in one byte
	magicV2 = 0xdaa320ab // topic length in two bytes

	sysFlagCompressed    = 1 << 0
	sysFlagBornHostV6    = 1 << 4
	sysFlagStoreHostV6   = 1 << 5
	sysFlagCompressType  = 0x7 << 8
	compressLZ4          = 1 << 8
	compressZSTD         = 2 << 8
	compressZLIB         = 3 << 8
	maxDecompressedBytes = 64 << 20
)

// stored is one message as the broker stores it. Its byte slices point
// into the pull answer (the body unless it was compressed).
type stored struct {
	queueID     int32
	queueOffset int64
	physOffset  int64
	sysFlag     int32
	bornMs      int64
	storeMs     int64
	storeHost   []byte // address and port, for the offset message id
	reconsume   int32
	body        []byte
	topic       []byte
	props       []byte // name 0x01 value 0x02 …
}

// errMessage reports a pull answer that does not hold well-formed
// messages.
type errMessage struct{ msg string }

func (e *errMessage) Error() string { return "malformed message in pull answer: " + e.msg }

func malformed(format string, args ...any) error {
	return &errMessage{fmt.Sprintf(format, args...)}
}

// reader walks a byte slice with bounds checks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = malformed("field of %d bytes, %d left", n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8 {
	if b := r.next(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.next(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.next(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.next(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// decodeStored calls fn with each message of a pull answer's body, in
// order. m is reused between calls.
func decodeStored(body []byte, fn func(m *stored) error) error {
	var m stored
	for len(body) > 0 {
		if len(body) < 8 {
			return malformed("%d trailing bytes", len(body))
		}
		size := int(int32(binary.BigEndian.Uint32(body)))
		if size < 8 || size > len(body) {
			return malformed("message of %d bytes, %d left", size, len(body))
		}
		if err := decodeOne(body[:size], &m); err != nil {
			return err
		}
		if err := fn(&m); err != nil {
			return err
		}
		body = body[size:]
	}
	return nil
}

func decodeOne(b []byte, m *stored) error {
	r := reader{b: b}
	r.u32() // total size
	magic := r.u32()
	if magic != magicV1 && magic != magicV2 {
		return malformed("magic code %#x", magic)
	}
	r.u32() // body CRC
	m.queueID = int32(r.u32())
	r.u32() // flag
	m.queueOffset = int64(r.u64())
	m.physOffset = int64(r.u64())
	m.sysFlag = int32(r.u32())
	m.bornMs = int64(r.u64())
	if m.sysFlag&sysFlagBornHostV6 != 0 {
		r.next(20)
	} else {
		r.next(8)
	}
	m.storeMs = int64(r.u64())
	if m.sysFlag&sysFlagStoreHostV6 != 0 {
		m.storeHost = r.next(20)
	} else {
		m.storeHost = r.next(8)
	}
	m.reconsume = int32(r.u32())
	r.u64() // prepared transaction offset
	m.body = r.next(int(int32(r.u32())))
	if magic == magicV2 {
		m.topic = r.next(int(r.u16()))
	} else {
		m.topic = r.next(int(r.u8()))
	}
	m.props = r.next(int(r.u16()))
	if r.err != nil {
		return r.err
	}
	if m.sysFlag&sysFlagCompressed != 0 {
		body, err := decompress(m.body, m.sysFlag&sysFlagCompressType)
		if err != nil {
			return malformed("offset %d: %v", m.queueOffset, err)
		}
		m.body = body
	}
	return nil
}

// decompress inflates a compressed body by the compression type in the
// message's flags (no type: zlib, as older producers write), at most
// maxDecompressedBytes.
func decompress(b []byte, typ int32) ([]byte, error) {
	var rd io.Reader
	switch typ {
	case 0, compressZLIB:
		z, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		defer z.Close()
		rd = z
	case compressLZ4:
		rd = lz4.NewReader(bytes.NewReader(b))
	case compressZSTD:
		z, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxDecompressedBytes))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer z.Close()
		rd = z
	default:
		return nil, fmt.Errorf("unknown compression type %d", typ>>8)
	}
	out, err := io.ReadAll(io.LimitReader(rd, maxDecompressedBytes+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDecompressedBytes {
		return nil, fmt.Errorf("body inflates beyond %d bytes", maxDecompressedBytes)
	}
	return out, nil
}

// prop is one message property, pointing into the pull answer.
type prop struct{ name, value []byte }

// appendProps splits a properties block (name 0x01 value 0x02 …) onto
// dst. A pair without its 0x01 is skipped, as the Java client does.
func appendProps(dst []prop, b []byte) []prop {
	for len(b) > 0 {
		end := bytes.IndexByte(b, 2)
		if end < 0 {
			end = len(b)
		}
		pair := b[:end]
		if sep := bytes.IndexByte(pair, 1); sep > 0 {
			dst = append(dst, prop{pair[:sep], pair[sep+1:]})
		}
		if end == len(b) {
			break
		}
		b = b[end+1:]
	}
	return dst
}

// interner hands out one string per distinct byte sequence (property
// names, tags), so the strings every message repeats are made once. It
// holds at most maxInterned strings; past that it makes new ones.
type interner map[string]string

const maxInterned = 1024

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}

// offsetMsgID is the broker's offset message id (what
// MessageDecoder.createMessageId returns): the store host's address and
// port and the commit-log offset, in upper-case hex.
func offsetMsgID(m *stored) string {
	const digits = "0123456789ABCDEF"
	var raw [28]byte
	n := copy(raw[:], m.storeHost)
	binary.BigEndian.PutUint64(raw[n:], uint64(m.physOffset))
	var out [56]byte
	for i, c := range raw[:n+8] {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out[:2*(n+8)])
}
