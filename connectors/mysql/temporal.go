package mysql

import (
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// Temporal values skip go-mysql's string formatting. go-mysql renders
// DATETIME(fsp), TIMESTAMP(fsp) and DATE through fmt.Sprintf or
// time.Format into a string, which the source then rewrote into ISO 8601:
// a tenth of a CDC pipeline's CPU went there. Where go-mysql decodes a
// table's rows, decodeData has it read those columns as what they are on
// the wire, fixed-width big-endian integers (BIT(8n) of the same width);
// where the stream reads them itself (rowdecode.go) it takes the same
// integers from the bytes. renderPacked renders the integer straight into
// the JSON, byte for byte as the string route did (FuzzPackedTemporal
// holds it to go-mysql's own decoding).

// decodeRows is the syncer's RowsEventDecodeFunc. A rows event of a table
// the stream decodes directly (rawReadable) keeps its rows undecoded, as a
// undecodedRows in e.Rows; any other has go-mysql's own decoding (decodeData).
func decodeRows(e *replication.RowsEvent, data []byte) error {
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	if rawReadable(e.Table) && e.ColumnCount == uint64(len(e.Table.ColumnType)) {
		e.Rows = [][]any{{&undecodedRows{data: data, pos: pos}}}
		return nil
	}
	return decodeData(e, pos, data)
}

// decodeData is go-mysql's decoding of the rows of e from data[pos:], on
// a private copy of the table map (decodeLayout) that is put back before
// it returns.
func decodeData(e *replication.RowsEvent, pos int, data []byte) error {
	if l := decodeLayout(e.Table); l != nil {
		orig := e.Table
		e.Table = l
		defer func() { e.Table = orig }()
	}
	return e.DecodeData(pos, data)
}

// decodeLayout returns the table map go-mysql should decode rows with, or
// nil for t itself. It differs in two ways, both undone by the renderer
// from the column facts it derives from t (binlogColumns):
//   - DATETIME2, TIMESTAMP2 and DATE columns are BIT columns of their byte
//     width, so their values arrive as int64 (packedWidth);
//   - there is no signedness bitmap, so integers arrive signed and
//     appendInt restores unsigned ones — go-mysql otherwise builds a map of
//     the bitmap for every row image it decodes.
//
// It runs on the syncer's goroutines and keeps no state.
func decodeLayout(t *replication.TableMapEvent) *replication.TableMapEvent {
	if t == nil {
		return nil
	}
	packed := false
	for i, typ := range t.ColumnType {
		if _, ok := packedWidth(typ, meta(t, i)); ok {
			packed = true
			break
		}
	}
	if !packed && len(t.SignednessBitmap) == 0 {
		return nil
	}
	// Only what row decoding reads (DecodeData: column types and metadata,
	// the signedness bitmap): the reader's goroutine fills t's lazy caches
	// meanwhile, so t is not copied whole.
	l := replication.TableMapEvent{TableID: t.TableID, Flags: t.Flags, Schema: t.Schema, Table: t.Table,
		ColumnCount: t.ColumnCount, ColumnType: t.ColumnType, ColumnMeta: t.ColumnMeta, NullBitmap: t.NullBitmap}
	if packed {
		l.ColumnType = append([]byte(nil), t.ColumnType...)
		l.ColumnMeta = make([]uint16, len(t.ColumnType))
		copy(l.ColumnMeta, t.ColumnMeta)
		for i, typ := range t.ColumnType {
			if n, ok := packedWidth(typ, meta(t, i)); ok {
				// go-mysql's BIT: (meta>>8)*8 + meta&0xff bits, read as
				// that many big-endian bytes.
				l.ColumnType[i], l.ColumnMeta[i] = gmysql.MYSQL_TYPE_BIT, uint16(n)<<8
			}
		}
	}
	return &l
}

func meta(t *replication.TableMapEvent, i int) uint16 {
	if i < len(t.ColumnMeta) {
		return t.ColumnMeta[i]
	}
	return 0
}

// packedWidth is the byte width of a column type whose values decodeRows
// has go-mysql hand over as integers; ok is false for other types.
func packedWidth(typ byte, meta uint16) (n int, ok bool) {
	switch typ {
	case gmysql.MYSQL_TYPE_DATETIME2:
		if meta > 6 {
			return 0, false
		}
		return 5 + int(meta+1)/2, true
	case gmysql.MYSQL_TYPE_TIMESTAMP2:
		if meta > 6 {
			return 0, false
		}
		return 4 + int(meta+1)/2, true
	case gmysql.MYSQL_TYPE_DATE:
		return 3, true
	}
	return 0, false
}

// The offset of DATETIME2's integer part (MySQL's DATETIMEF_INT_OFS).
const datetimeIntOffset = 0x8000000000

// renderPacked appends the JSON of a DATETIME2, TIMESTAMP2 or DATE value
// that arrived as the big-endian integer of its bytes: what go-mysql's
// string of it became through ISOTime.
func renderPacked(b []byte, c *column, v int64) []byte {
	var buf [48]byte
	s := buf[:0]
	p := uint64(v)
	switch c.kind {
	case kindDatetime:
		s = appendDatetime2(s, p, c.fsp)
	case kindTimestamp:
		s = appendTimestamp2(s, p, c.fsp)
	default: // kindDate
		s = appendDate(s, p)
	}
	return appendISOTime(b, s, c.kind == kindTimestamp)
}

// fraction returns the fractional part of a DATETIME2/TIMESTAMP2 value in
// microseconds from its last bytes (p's low (dec+1)/2 bytes), as MySQL
// stores it for dec digits.
func fraction(p uint64, dec int) int64 {
	switch dec {
	case 1, 2:
		return int64(p&0xff) * 10000
	case 3, 4:
		return int64(p&0xffff) * 100
	case 5, 6:
		return int64(p & 0xffffff)
	}
	return 0
}

// appendDatetime2 appends go-mysql's string of a DATETIME2(dec) value
// (decodeDatetime2 without ParseTime), arithmetic and all.
func appendDatetime2(s []byte, p uint64, dec int) []byte {
	fracBytes := uint(dec+1) / 2
	intPart := int64(p>>(8*fracBytes)) - datetimeIntOffset
	frac := fraction(p, dec)
	if intPart == 0 {
		return appendZeroTime(s, frac, dec)
	}
	tmp := intPart<<24 + frac
	if tmp < 0 {
		tmp = -tmp
	}
	ymdhms := tmp >> 24
	ymd := ymdhms >> 17
	ym := ymd >> 5
	hms := ymdhms % (1 << 17)
	s = appendPadded(s, ym/13, 4)
	s = append(s, '-')
	s = appendPadded(s, ym%13, 2)
	s = append(s, '-')
	s = appendPadded(s, ymd%(1<<5), 2)
	s = append(s, ' ')
	s = appendPadded(s, hms>>12, 2)
	s = append(s, ':')
	s = appendPadded(s, (hms>>6)%(1<<6), 2)
	s = append(s, ':')
	s = appendPadded(s, hms%(1<<6), 2)
	return appendFraction(s, frac, dec)
}

// appendTimestamp2 appends go-mysql's string of a TIMESTAMP2(dec) value in
// UTC (the syncer's TimestampStringLocation).
func appendTimestamp2(s []byte, p uint64, dec int) []byte {
	fracBytes := uint(dec+1) / 2
	sec := int64(p >> (8 * fracBytes))
	usec := fraction(p, dec)
	if sec == 0 {
		return appendZeroTime(s, usec, dec)
	}
	t := time.Unix(sec, usec*1000).UTC()
	y, mo, d := t.Date()
	h, mi, se := t.Clock()
	s = appendPadded(s, int64(y), 4)
	s = append(s, '-')
	s = appendPadded(s, int64(mo), 2)
	s = append(s, '-')
	s = appendPadded(s, int64(d), 2)
	s = append(s, ' ')
	s = appendPadded(s, int64(h), 2)
	s = append(s, ':')
	s = appendPadded(s, int64(mi), 2)
	s = append(s, ':')
	s = appendPadded(s, int64(se), 2)
	// time.Format's fraction: the first dec of nine nanosecond digits.
	return appendFraction(s, int64(t.Nanosecond()/1000), dec)
}

// appendDate appends go-mysql's string of a DATE, whose three bytes are
// little-endian on the wire (p holds them big-endian).
func appendDate(s []byte, p uint64) []byte {
	v := uint32(p&0xff)<<16 | uint32(p>>8&0xff)<<8 | uint32(p>>16&0xff)
	if v == 0 {
		return append(s, "0000-00-00"...)
	}
	s = appendPadded(s, int64(v/(16*32)), 4)
	s = append(s, '-')
	s = appendPadded(s, int64(v/32%16), 2)
	s = append(s, '-')
	return appendPadded(s, int64(v%32), 2)
}

// appendZeroTime is go-mysql's formatZeroTime.
func appendZeroTime(s []byte, frac int64, dec int) []byte {
	s = append(s, "0000-00-00 00:00:00"...)
	return appendFraction(s, frac, dec)
}

// appendFraction appends "." and the first dec digits of the six-digit
// microseconds (nothing for dec 0), as go-mysql's %06d cut to dec does.
func appendFraction(s []byte, usec int64, dec int) []byte {
	if dec == 0 {
		return s
	}
	var d [20]byte
	six := appendPadded(d[:0], usec, 6)
	s = append(s, '.')
	return append(s, six[:len(six)-(6-dec)]...)
}

// appendPadded appends v as fmt's %0<width>d does: zero-padded to width,
// the sign counted in it.
func appendPadded(s []byte, v int64, width int) []byte {
	var d [20]byte
	i := len(d)
	u := uint64(v)
	if v < 0 {
		u = -u
	}
	for u >= 10 {
		i--
		d[i] = byte('0' + u%10)
		u /= 10
	}
	i--
	d[i] = byte('0' + u)
	n := len(d) - i
	if v < 0 {
		s = append(s, '-')
		n++
	}
	for ; n < width; n++ {
		s = append(s, '0')
	}
	return append(s, d[i:]...)
}

// appendISOTime appends the JSON string of kit.ISOTime(s, utc): s with
// its date and time joined by T (and a Z when utc), or s as it is for zero
// dates and what is not "YYYY-MM-DD hh:mm:ss…". s holds only digits and
// "-: .", which JSON needs no escape for.
func appendISOTime(b []byte, s []byte, utc bool) []byte {
	b = append(b, '"')
	if len(s) < 19 || s[10] != ' ' || string(s[:10]) == "0000-00-00" {
		b = append(b, s...)
		return append(b, '"')
	}
	b = append(b, s[:10]...)
	b = append(b, 'T')
	b = append(b, s[11:]...)
	if utc {
		b = append(b, 'Z')
	}
	return append(b, '"')
}
