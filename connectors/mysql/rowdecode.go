package mysql

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"unsafe"

	"github.com/ferryhq/ferry/api"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// Direct row decoding. go-mysql decodes a rows event into one []any per
// row image, a boxed value per column, which the renderer then turns into
// JSON: the two were about a third of a CDC → Kafka worker's CPU. For a
// table whose every column type is in the set below (rawColumnLayout),
// decodeRows leaves the event's rows undecoded and the stream renders each
// image straight from the event's bytes into the record's JSON, byte for
// byte what renderBinlog makes of go-mysql's values (FuzzDirectRows holds
// the two together). Other tables, and events the direct path does not
// read (MariaDB's compressed rows, MySQL's partial JSON updates), keep
// go-mysql's decoding.
//
// The bytes stay valid while the event is held: go-mysql reads each
// packet into memory of its own (packet.Conn.ReadPacket copies out of its
// pooled buffer, or hands over a buffer too big to pool) and decompressed
// transaction payloads into a new slice, and never writes them again; its
// own string values point into them the same way.

// undecodedRows is what decodeRows leaves in a rows event's Rows for the stream
// to decode directly: the event's body and where its row images start.
type undecodedRows struct {
	data []byte
	pos  int
}

// deferredRows returns the body decodeRows left undecoded in e, or nil
// when go-mysql decoded e's rows.
func deferredRows(e *replication.RowsEvent) *undecodedRows {
	if len(e.Rows) != 1 || len(e.Rows[0]) != 1 {
		return nil
	}
	r, _ := e.Rows[0][0].(*undecodedRows)
	return r
}

// rawKind is how a column's value is laid out in a row image.
type rawKind uint8

const (
	rawInt     rawKind = iota + 1 // signed little-endian integer of n bytes
	rawFloat                      // FLOAT, 4 bytes
	rawDouble                     // DOUBLE, 8 bytes
	rawDecimal                    // binary DECIMAL(prec, scale)
	rawBit                        // BIT: unsigned big-endian integer of n bytes
	rawYear                       // YEAR, 1 byte
	rawEnum                       // ENUM index, little-endian, n bytes (1, 2)
	rawSet                        // SET bits, little-endian, n bytes (1..8)
	rawText                       // a length of n little-endian bytes, then the value's bytes
	rawPacked                     // DATETIME2, TIMESTAMP2, DATE: big-endian integer of n bytes (renderPacked)
	rawTime2                      // TIME2(dec), n bytes
)

// rawCol is a column's layout in row images.
type rawCol struct {
	kind  rawKind
	n     uint8 // width, or the width of the length (rawText)
	prec  uint8 // DECIMAL's precision
	scale uint8 // DECIMAL's scale, TIME2's fraction digits
}

// rawColumnLayout is the layout of a column of binlog type typ and table-map
// metadata meta; ok is false for what the direct path leaves to go-mysql:
// JSON, GEOMETRY, VECTOR, the temporal types of before MySQL 5.6, and
// metadata outside what servers write (where go-mysql's reading is its own).
func rawColumnLayout(typ byte, meta uint16) (c rawCol, ok bool) {
	switch typ {
	case gmysql.MYSQL_TYPE_TINY:
		return rawCol{kind: rawInt, n: 1}, true
	case gmysql.MYSQL_TYPE_SHORT:
		return rawCol{kind: rawInt, n: 2}, true
	case gmysql.MYSQL_TYPE_INT24:
		return rawCol{kind: rawInt, n: 3}, true
	case gmysql.MYSQL_TYPE_LONG:
		return rawCol{kind: rawInt, n: 4}, true
	case gmysql.MYSQL_TYPE_LONGLONG:
		return rawCol{kind: rawInt, n: 8}, true
	case gmysql.MYSQL_TYPE_FLOAT:
		return rawCol{kind: rawFloat, n: 4}, true
	case gmysql.MYSQL_TYPE_DOUBLE:
		return rawCol{kind: rawDouble, n: 8}, true
	case gmysql.MYSQL_TYPE_YEAR:
		return rawCol{kind: rawYear, n: 1}, true
	case gmysql.MYSQL_TYPE_NEWDECIMAL:
		prec, scale := meta>>8, meta&0xff
		if prec == 0 || prec > 65 || scale > 30 || scale > prec {
			return rawCol{}, false
		}
		return rawCol{kind: rawDecimal, prec: uint8(prec), scale: uint8(scale)}, true
	case gmysql.MYSQL_TYPE_BIT:
		// go-mysql's reading: (meta>>8)*8 + meta&0xff bits.
		n := (int(meta>>8)*8 + int(meta&0xff) + 7) / 8
		if n < 1 || n > 8 {
			return rawCol{}, false
		}
		return rawCol{kind: rawBit, n: uint8(n)}, true
	case gmysql.MYSQL_TYPE_DATETIME2, gmysql.MYSQL_TYPE_TIMESTAMP2, gmysql.MYSQL_TYPE_DATE:
		n, ok := packedWidth(typ, meta)
		return rawCol{kind: rawPacked, n: uint8(n)}, ok
	case gmysql.MYSQL_TYPE_TIME2:
		if meta > 6 {
			return rawCol{}, false
		}
		return rawCol{kind: rawTime2, n: uint8(3 + (meta+1)/2), scale: uint8(meta)}, true
	case gmysql.MYSQL_TYPE_VARCHAR, gmysql.MYSQL_TYPE_VAR_STRING:
		return rawCol{kind: rawText, n: textLengthWidth(int(meta))}, true
	case gmysql.MYSQL_TYPE_BLOB:
		if meta < 1 || meta > 4 {
			return rawCol{}, false
		}
		return rawCol{kind: rawText, n: uint8(meta)}, true
	case gmysql.MYSQL_TYPE_STRING:
		// CHAR, BINARY, ENUM and SET, told apart as go-mysql does; an ENUM
		// or SET only when its real type byte says so plainly, as
		// binlogColumns reads it.
		if meta < 256 {
			return rawCol{kind: rawText, n: 1}, true
		}
		b0, b1 := byte(meta>>8), byte(meta)
		if b0&0x30 != 0x30 {
			if b0|0x30 != gmysql.MYSQL_TYPE_STRING {
				return rawCol{}, false
			}
			return rawCol{kind: rawText, n: textLengthWidth(int(uint16(b1) | uint16((b0&0x30)^0x30)<<4))}, true
		}
		switch b0 {
		case gmysql.MYSQL_TYPE_STRING:
			return rawCol{kind: rawText, n: 1}, true
		case gmysql.MYSQL_TYPE_ENUM:
			if b1 == 1 || b1 == 2 {
				return rawCol{kind: rawEnum, n: b1}, true
			}
		case gmysql.MYSQL_TYPE_SET:
			if b1 >= 1 && b1 <= 8 {
				return rawCol{kind: rawSet, n: b1}, true
			}
		}
	}
	return rawCol{}, false
}

// textLengthWidth is the width of the length before a CHAR or VARCHAR
// value of at most max bytes.
func textLengthWidth(max int) uint8 {
	if max < 256 {
		return 1
	}
	return 2
}

// rawLayout returns the row-image layout of t's columns, or nil when some
// column is not one the direct path reads.
func rawLayout(t *replication.TableMapEvent) []rawCol {
	if !rawReadable(t) {
		return nil
	}
	cols := make([]rawCol, len(t.ColumnType))
	for i, typ := range t.ColumnType {
		cols[i], _ = rawColumnLayout(typ, t.ColumnMeta[i])
	}
	return cols
}

// rawReadable reports whether the direct path reads every column of t.
// It runs on the syncer's goroutine for every rows event: no allocation.
func rawReadable(t *replication.TableMapEvent) bool {
	if t == nil || len(t.ColumnType) == 0 || len(t.ColumnMeta) != len(t.ColumnType) {
		return false
	}
	for i, typ := range t.ColumnType {
		if _, ok := rawColumnLayout(typ, t.ColumnMeta[i]); !ok {
			return false
		}
	}
	return true
}

// directRows reports whether the stream decodes a rows event of type typ
// directly: plain (not compressed, not partial) write, update and delete
// events, with a second columns-present bitmap exactly for updates.
func directRows(typ replication.EventType, e *replication.RowsEvent) bool {
	switch typ {
	case replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2:
		return e.ColumnBitmap2 == nil
	case replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2:
		return e.ColumnBitmap2 != nil
	}
	return false
}

// errImageEnd is a row image cut short by the end of its event.
var errImageEnd = fmt.Errorf("%w: a row image runs past the end of its rows event", ErrDecode)

// errNoColumns is a rows event whose images hold no column.
var errNoColumns = fmt.Errorf("%w: a rows event names no column present in its row images", ErrDecode)

// imageNulls returns the NULL bitmap of the image at data[p:], whose
// columns present are the set bits of present, and the offset after it.
func imageNulls(ncols int, present, data []byte, p int) ([]byte, int, error) {
	count, i := 0, 0
	for ; i+8 <= ncols; i += 8 {
		count += bits.OnesCount8(present[i>>3])
	}
	if i < ncols {
		count += bits.OnesCount8(present[i>>3] & byte(1<<(ncols-i)-1))
	}
	if count == 0 {
		// No byte to read: the event would never end (go-mysql's decoding
		// loops on it forever).
		return nil, p, errNoColumns
	}
	n := (count + 7) / 8
	if len(data)-p < n {
		return nil, p, errImageEnd
	}
	return data[p : p+n], p + n, nil
}

func bitSet(bitmap []byte, i int) bool { return bitmap[i>>3]&(1<<(i&7)) != 0 }

// renderRawImage appends the JSON object of the row image at data[p:] as
// renderBinlog renders go-mysql's decoding of it, and returns the offset
// after the image. offs (one per column) receives each value's offset, -1
// for a column absent from the image or NULL, for renderRawKey.
func renderRawImage(b []byte, m *tableMeta, present, data []byte, p int, offs []int) ([]byte, int, error) {
	nulls, p, err := imageNulls(len(m.raw), present, data, p)
	if err != nil {
		return b, p, err
	}
	b = append(b, '{')
	k := 0 // the next NULL bit
	for i := range m.raw {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m.keys[i]...)
		if !bitSet(present, i) {
			offs[i] = -1
			b = append(b, "null"...)
			continue
		}
		null := bitSet(nulls, k)
		k++
		if null {
			offs[i] = -1
			b = append(b, "null"...)
			continue
		}
		offs[i] = p
		if b, p, err = appendRawValue(b, &m.cols[i], m.raw[i], data, p); err != nil {
			return b, p, err
		}
	}
	return append(b, '}'), p, nil
}

// renderRawKey appends the JSON object of the primary-key columns of the
// image renderRawImage last rendered (offs), as renderBinlog(b, m.cols,
// m.pk, image) does.
func renderRawKey(b []byte, m *tableMeta, data []byte, offs []int) ([]byte, error) {
	b = append(b, '{')
	for j, i := range m.pk {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, m.keys[i]...)
		if i >= len(offs) || offs[i] < 0 {
			b = append(b, "null"...)
			continue
		}
		var err error
		if b, _, err = appendRawValue(b, &m.cols[i], m.raw[i], data, offs[i]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// skipRawImage returns the offset after the row image at data[p:].
func skipRawImage(raw []rawCol, present, data []byte, p int) (int, error) {
	nulls, p, err := imageNulls(len(raw), present, data, p)
	if err != nil {
		return p, err
	}
	k := 0
	for i, r := range raw {
		if !bitSet(present, i) {
			continue
		}
		null := bitSet(nulls, k)
		k++
		if null {
			continue
		}
		var n int
		if n, err = rawSize(r, data, p); err != nil {
			return p, err
		}
		p += n
	}
	return p, nil
}

// rawSize is the size of the value of layout r at data[p:].
func rawSize(r rawCol, data []byte, p int) (int, error) {
	n := int(r.n)
	switch r.kind {
	case rawDecimal:
		n = decimalSize(int(r.prec), int(r.scale))
	case rawText:
		if len(data)-p < n {
			return 0, errImageEnd
		}
		n += int(littleEndian(data[p : p+n]))
	}
	if len(data)-p < n {
		return 0, errImageEnd
	}
	return n, nil
}

func littleEndian(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func bigEndian(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// appendRawValue appends the JSON of the value of layout r at data[p:]
// as appendBinlogValue renders go-mysql's decoding of it, and returns the
// offset after the value.
func appendRawValue(b []byte, c *column, r rawCol, data []byte, p int) ([]byte, int, error) {
	n, err := rawSize(r, data, p)
	if err != nil {
		return b, p, err
	}
	v := data[p : p+n]
	next := p + n
	switch r.kind {
	case rawInt:
		var x int64
		switch n {
		case 1:
			x = int64(int8(v[0]))
		case 2:
			x = int64(int16(binary.LittleEndian.Uint16(v)))
		case 3:
			x = int64(int32((uint32(v[0])|uint32(v[1])<<8|uint32(v[2])<<16)<<8) >> 8)
		case 4:
			x = int64(int32(binary.LittleEndian.Uint32(v)))
		default:
			x = int64(binary.LittleEndian.Uint64(v))
		}
		return appendInt(b, c, x), next, nil
	case rawFloat:
		b, err = appendFloat(b, float64(math.Float32frombits(binary.LittleEndian.Uint32(v))), 32)
		return b, next, err
	case rawDouble:
		b, err = appendFloat(b, math.Float64frombits(binary.LittleEndian.Uint64(v)), 64)
		return b, next, err
	case rawDecimal:
		b, err = appendRawDecimal(b, c, v, int(r.prec), int(r.scale))
		return b, next, err
	case rawBit:
		return strconv.AppendUint(b, bigEndian(v), 10), next, nil
	case rawYear:
		y := int64(v[0])
		if y != 0 {
			y += 1900
		}
		return strconv.AppendInt(b, y, 10), next, nil
	case rawEnum:
		return appendEnum(b, c, int64(littleEndian(v))), next, nil
	case rawSet:
		return appendSet(b, c, littleEndian(v)), next, nil
	case rawPacked:
		return renderPacked(b, c, int64(bigEndian(v))), next, nil
	case rawTime2:
		var buf [32]byte
		s := appendTime2(buf[:0], v, int(r.scale))
		b, err = appendRawText(b, c, s)
		return b, next, err
	case rawText:
		b, err = appendRawText(b, c, v[r.n:])
		return b, next, err
	}
	return b, p, fmt.Errorf("%w: column %s: no direct decoding for its type", ErrDecode, c.name)
}

// appendRawText renders text, binary and TIME bytes as appendBinlogValue
// renders go-mysql's string or []byte of them. The string views v without
// a copy: nothing keeps it past the call.
func appendRawText(b []byte, c *column, v []byte) ([]byte, error) {
	var s string
	if len(v) > 0 {
		s = unsafe.String(&v[0], len(v))
	}
	if c.pad > 0 || c.fsp > 0 || c.enc != nil {
		return appendBinlogString(b, c, s)
	}
	return appendText(b, c, s)
}

// decimalBytes is the size of a group of fewer than nine decimal digits.
var decimalBytes = [10]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}

// decimalSize is the size of a binary DECIMAL(prec, scale): nine digits
// per four bytes, the rest of each side in decimalBytes.
func decimalSize(prec, scale int) int {
	ip, fp := prec-scale, scale
	return ip/9*4 + decimalBytes[ip%9] + fp/9*4 + decimalBytes[fp%9]
}

var errDecimalDigits = errors.New("a nine-digit group of a DECIMAL holds more than nine digits")

// appendRawDecimal appends, as a JSON string, go-mysql's text of the
// binary DECIMAL(prec, scale) v (decodeDecimal without UseDecimal): the
// sign, the integral digits without leading zeros (0 when none), and the
// scale's digits after a point. A nine-digit group holding a larger
// number, which only a corrupt event has, is an error, as go-mysql's
// decoding fails on it.
func appendRawDecimal(b []byte, c *column, v []byte, prec, scale int) ([]byte, error) {
	ip := prec - scale
	var buf [32]byte
	d := buf[:copy(buf[:], v)]
	b = append(b, '"')
	var mask uint32
	if d[0]&0x80 == 0 {
		mask = math.MaxUint32
		b = append(b, '-')
	}
	d[0] ^= 0x80
	lead := true
	q := decimalBytes[ip%9]
	if x := decimalGroup(d[:q], mask); x != 0 {
		lead = false
		b = strconv.AppendUint(b, uint64(x), 10)
	}
	var ok bool
	for range ip / 9 {
		x := binary.BigEndian.Uint32(d[q:]) ^ mask
		q += 4
		switch {
		case !lead:
			if b, ok = appendNineDigits(b, x); !ok {
				return b, fmt.Errorf("%w: column %s: %v", ErrDecode, c.name, errDecimalDigits)
			}
		case x != 0:
			lead = false
			b = strconv.AppendUint(b, uint64(x), 10)
		}
	}
	if lead {
		b = append(b, '0')
	}
	if q < len(d) {
		b = append(b, '.')
		for range scale / 9 {
			x := binary.BigEndian.Uint32(d[q:]) ^ mask
			q += 4
			if b, ok = appendNineDigits(b, x); !ok {
				return b, fmt.Errorf("%w: column %s: %v", ErrDecode, c.name, errDecimalDigits)
			}
		}
		if rest := scale % 9; rest > 0 {
			x := decimalGroup(d[q:q+decimalBytes[rest]], mask)
			var digits [10]byte
			t := strconv.AppendUint(digits[:0], uint64(x), 10)
			for range rest - len(t) {
				b = append(b, '0')
			}
			b = append(b, t...)
		}
	}
	return append(b, '"'), nil
}

// decimalGroup is the big-endian integer of a DECIMAL's short group, its
// bytes inverted by mask for negative numbers.
func decimalGroup(g []byte, mask uint32) uint32 {
	var x uint32
	for _, c := range g {
		x = x<<8 | uint32(c^byte(mask))
	}
	return x
}

// appendNineDigits appends x zero-padded to nine digits; ok is false when
// x has more.
func appendNineDigits(b []byte, x uint32) ([]byte, bool) {
	if x >= 1_000_000_000 {
		return b, false
	}
	var digits [10]byte
	t := strconv.AppendUint(digits[:0], uint64(x), 10)
	for range 9 - len(t) {
		b = append(b, '0')
	}
	return append(b, t...), true
}

// The offsets of TIME2's integer part (MySQL's TIMEF_INT_OFS) and of the
// whole value with six fraction digits (TIMEF_OFS).
const (
	timeIntOffset = 0x800000
	timeOffset    = 0x800000000000
)

// appendTime2 appends go-mysql's string of the TIME2(dec) value v
// (decodeTime2), negative times and out-of-range fractions included.
func appendTime2(s, v []byte, dec int) []byte {
	var tmp, intPart, frac int64
	switch dec {
	case 1, 2:
		intPart = int64(bigEndian(v[:3])) - timeIntOffset
		frac = int64(v[3])
		if intPart < 0 && frac != 0 {
			// Negative values store the fraction reversed.
			intPart++
			frac -= 0x100
		}
		tmp = intPart<<24 + frac*10000
	case 3, 4:
		intPart = int64(bigEndian(v[:3])) - timeIntOffset
		frac = int64(binary.BigEndian.Uint16(v[3:5]))
		if intPart < 0 && frac != 0 {
			intPart++
			frac -= 0x10000
		}
		tmp = intPart<<24 + frac*100
	case 5, 6:
		return appendTimeOfDay(s, int64(bigEndian(v[:6]))-timeOffset, dec)
	default:
		intPart = int64(bigEndian(v[:3])) - timeIntOffset
		tmp = intPart << 24
	}
	if intPart == 0 && frac == 0 {
		return append(s, "00:00:00"...)
	}
	return appendTimeOfDay(s, tmp, dec)
}

// appendTimeOfDay is go-mysql's timeFormat: [-]hh:mm:ss, then the
// microseconds when not zero, the whole cut by 6-dec characters.
func appendTimeOfDay(s []byte, tmp int64, dec int) []byte {
	if tmp < 0 {
		tmp = -tmp
		s = append(s, '-')
	}
	hms := tmp >> 24
	s = appendPadded(s, (hms>>12)%(1<<10), 2)
	s = append(s, ':')
	s = appendPadded(s, (hms>>6)%(1<<6), 2)
	s = append(s, ':')
	s = appendPadded(s, hms%(1<<6), 2)
	if frac := tmp % (1 << 24); frac != 0 {
		s = append(s, '.')
		s = appendPadded(s, frac, 6)
		s = s[:len(s)-(6-dec)]
	}
	return s
}

// columnKeys returns `"name":` of each column, rendered once per table.
func columnKeys(cols []column) []string {
	keys := make([]string, len(cols))
	for i := range cols {
		keys[i] = string(api.AppendJSONString(nil, cols[i].name)) + ":"
	}
	return keys
}
