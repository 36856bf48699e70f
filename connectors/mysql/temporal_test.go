package mysql

import (
	"encoding/binary"
	"testing"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// The raw binlog events of a one-table stream, built by hand so that
// go-mysql's own parser decodes them as it decodes a server's.

func rawEvent(typ replication.EventType, body []byte) []byte {
	h := make([]byte, replication.EventHeaderSize, replication.EventHeaderSize+len(body))
	h[4] = byte(typ)
	binary.LittleEndian.PutUint32(h[5:], 1)
	binary.LittleEndian.PutUint32(h[9:], uint32(replication.EventHeaderSize+len(body)))
	return append(h, body...)
}

// rawFormat is a format description of a server too old for checksums,
// whose table ids are 6 bytes.
func rawFormat() []byte {
	b := binary.LittleEndian.AppendUint16(nil, 4)
	b = append(b, make([]byte, 50)...)
	copy(b[2:], "5.5.0")
	b = append(b, 0, 0, 0, 0, replication.EventHeaderSize)
	for range 40 {
		b = append(b, 10)
	}
	return rawEvent(replication.FORMAT_DESCRIPTION_EVENT, b)
}

type rawColumn struct {
	typ      byte
	meta     []byte // as the table map carries it
	unsigned bool
}

const rawTableID = 42

func rawTableMap(cols []rawColumn) []byte {
	b := []byte{rawTableID, 0, 0, 0, 0, 0, 0, 0}
	b = append(b, 2, 'd', 'b', 0, 1, 't', 0, byte(len(cols)))
	var metas, sign []byte
	signed := 0
	for _, c := range cols {
		b = append(b, c.typ)
		metas = append(metas, c.meta...)
		switch c.typ {
		case gmysql.MYSQL_TYPE_TINY, gmysql.MYSQL_TYPE_SHORT, gmysql.MYSQL_TYPE_INT24, gmysql.MYSQL_TYPE_LONG,
			gmysql.MYSQL_TYPE_LONGLONG, gmysql.MYSQL_TYPE_NEWDECIMAL, gmysql.MYSQL_TYPE_FLOAT, gmysql.MYSQL_TYPE_DOUBLE:
			if signed%8 == 0 {
				sign = append(sign, 0)
			}
			if c.unsigned {
				sign[len(sign)-1] |= 0x80 >> (signed % 8)
			}
			signed++
		}
	}
	b = append(b, byte(len(metas)))
	b = append(b, metas...)
	b = append(b, make([]byte, (len(cols)+7)/8)...) // null bitmap: all nullable
	if len(sign) > 0 {
		b = append(b, 1, byte(len(sign))) // optional metadata: SIGNEDNESS
		b = append(b, sign...)
	}
	return rawEvent(replication.TABLE_MAP_EVENT, b)
}

// rawRows is a v2 rows event of the images, each a null bitmap and the
// values' bytes (update events: before and after images in turn).
func rawRows(typ replication.EventType, ncols int, images ...[]byte) []byte {
	b := []byte{rawTableID, 0, 0, 0, 0, 0, 1, 0, 2, 0, byte(ncols)}
	all := make([]byte, (ncols+7)/8)
	for i := range all {
		all[i] = 0xff
	}
	b = append(b, all...)
	if typ == replication.UPDATE_ROWS_EVENTv2 {
		b = append(b, all...)
	}
	for _, img := range images {
		b = append(b, img...)
	}
	return rawEvent(typ, b)
}

// decodeBoth parses the events with go-mysql's own row decoding and with
// decodeRows, and renders every image of the last event (as the stream
// does, from the event's bytes where decodeRows left them) with the
// columns binlogColumns derives from the table map.
func decodeBoth(t testing.TB, events ...[]byte) (plain, ours []string, plainErr, oursErr error) {
	t.Helper()
	p, plainErr := renderRows(t, nil, plainFacts, nil, events...)
	o, oursErr := renderRows(t, decodeRows, plainFacts, nil, events...)
	return p.images, o.images, plainErr, oursErr
}

// temporalColumns is a table of every packed type at the given fractions,
// with unsigned integers around them (decodeLayout drops the signedness).
func temporalColumns(dtDec, tsDec byte) []rawColumn {
	return []rawColumn{
		{typ: gmysql.MYSQL_TYPE_LONG, unsigned: true},
		{typ: gmysql.MYSQL_TYPE_DATETIME2, meta: []byte{dtDec}},
		{typ: gmysql.MYSQL_TYPE_TINY},
		{typ: gmysql.MYSQL_TYPE_TIMESTAMP2, meta: []byte{tsDec}},
		{typ: gmysql.MYSQL_TYPE_DATE},
		{typ: gmysql.MYSQL_TYPE_TINY, unsigned: true},
		{typ: gmysql.MYSQL_TYPE_LONGLONG, unsigned: true},
		{typ: gmysql.MYSQL_TYPE_DATETIME2, meta: []byte{0}},
	}
}

// temporalImage is one row image of temporalColumns from raw bytes (what
// the fuzzer gives, cut or zero-padded to each value's width); nulls
// marks NULL columns by bit.
func temporalImage(dtDec, tsDec byte, nulls byte, raw []byte) []byte {
	widths := []int{4, 5 + int(dtDec+1)/2, 1, 4 + int(tsDec+1)/2, 3, 1, 8, 5}
	img := []byte{nulls}
	for i, w := range widths {
		if nulls&(1<<i) != 0 {
			continue
		}
		v := make([]byte, w)
		raw = raw[copy(v, raw):]
		img = append(img, v...)
	}
	return img
}

// datetime2 is DATETIME2(dec)'s bytes for a date and time (MySQL's
// TIME_to_longlong_datetime_packed, then my_datetime_packed_to_binary).
func datetime2(y, mo, d, h, mi, s, usec int, dec byte) []byte {
	ymd := int64((y*13+mo)<<5 | d)
	hms := int64(h<<12 | mi<<6 | s)
	intPart := ymd<<17 | hms
	b := binary.BigEndian.AppendUint64(nil, uint64(intPart+datetimeIntOffset))[3:]
	return append(b, fracBytes(usec, dec)...)
}

func timestamp2(sec uint32, usec int, dec byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, sec), fracBytes(usec, dec)...)
}

func fracBytes(usec int, dec byte) []byte {
	switch dec {
	case 1, 2:
		return []byte{byte(usec / 10000)}
	case 3, 4:
		return binary.BigEndian.AppendUint16(nil, uint16(usec/100))
	case 5, 6:
		return []byte{byte(usec >> 16), byte(usec >> 8), byte(usec)}
	}
	return nil
}

func date3(y, mo, d int) []byte {
	v := uint32(y<<9 | mo<<5 | d)
	return []byte{byte(v), byte(v >> 8), byte(v >> 16)}
}

// TestPackedTemporal renders DATETIME, TIMESTAMP and DATE values decoded
// by decodeRows as go-mysql's strings rendered them: fractions of every
// width, zero dates, dates MySQL accepts only with ALLOW_INVALID_DATES or
// as zero parts, the first instants, NULLs, and unsigned integers beside
// them.
func TestPackedTemporal(t *testing.T) {
	t.Parallel()
	type value struct {
		dt, ts, d []byte
		want      [3]string // dt, ts, d rendered
	}
	cases := []struct {
		name         string
		dtDec, tsDec byte
		v            value
	}{
		{"whole seconds", 0, 0, value{datetime2(2024, 2, 29, 23, 59, 59, 0, 0), timestamp2(1704164645, 0, 0), date3(2024, 2, 29),
			[3]string{`"2024-02-29T23:59:59"`, `"2024-01-02T03:04:05Z"`, `"2024-02-29"`}}},
		{"micros", 6, 6, value{datetime2(1999, 12, 31, 0, 0, 0, 123456, 6), timestamp2(1, 999999, 6), date3(1000, 1, 1),
			[3]string{`"1999-12-31T00:00:00.123456"`, `"1970-01-01T00:00:01.999999Z"`, `"1000-01-01"`}}},
		{"millis", 3, 3, value{datetime2(2024, 5, 6, 7, 8, 9, 123000, 3), timestamp2(1715000000, 678000, 3), date3(9999, 12, 31),
			[3]string{`"2024-05-06T07:08:09.123"`, `"2024-05-06T12:53:20.678Z"`, `"9999-12-31"`}}},
		{"odd widths", 1, 5, value{datetime2(2024, 1, 1, 0, 0, 0, 500000, 1), timestamp2(86400, 12340, 5), date3(1, 1, 1),
			[3]string{`"2024-01-01T00:00:00.5"`, `"1970-01-02T00:00:00.01234Z"`, `"0001-01-01"`}}},
		{"zero dates", 2, 4, value{datetime2(0, 0, 0, 0, 0, 0, 0, 2), timestamp2(0, 0, 4), date3(0, 0, 0),
			[3]string{`"0000-00-00 00:00:00.00"`, `"0000-00-00 00:00:00.0000"`, `"0000-00-00"`}}},
		{"zero parts and invalid dates", 0, 0, value{datetime2(2020, 2, 31, 0, 0, 0, 0, 0), timestamp2(4294967295, 0, 0), date3(2020, 0, 0),
			[3]string{`"2020-02-31T00:00:00"`, `"2106-02-07T06:28:15Z"`, `"2020-00-00"`}}},
		{"before 1970", 4, 0, value{datetime2(1900, 6, 15, 12, 30, 45, 123400, 4), timestamp2(1000000000, 0, 0), date3(1969, 12, 31),
			[3]string{`"1900-06-15T12:30:45.1234"`, `"2001-09-09T01:46:40Z"`, `"1969-12-31"`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cols := temporalColumns(c.dtDec, c.tsDec)
			img := []byte{0}
			img = binary.LittleEndian.AppendUint32(img, 4294967295)
			img = append(img, c.v.dt...)
			img = append(img, 0x80)
			img = append(img, c.v.ts...)
			img = append(img, c.v.d...)
			img = append(img, 0xff)
			img = binary.LittleEndian.AppendUint64(img, 1<<63)
			img = append(img, datetime2(2024, 1, 2, 3, 4, 5, 0, 0)...)
			nulls := []byte{0xff}
			plain, ours, perr, oerr := decodeBoth(t, rawFormat(), rawTableMap(cols),
				rawRows(replication.UPDATE_ROWS_EVENTv2, len(cols), img, nulls))
			if perr != nil || oerr != nil {
				t.Fatalf("decode: go-mysql %v, decodeRows %v", perr, oerr)
			}
			want := []string{
				`{"col0":4294967295,"col1":` + c.v.want[0] + `,"col2":-128,"col3":` + c.v.want[1] + `,"col4":` + c.v.want[2] +
					`,"col5":255,"col6":9223372036854775808,"col7":"2024-01-02T03:04:05"}`,
				`{"col0":null,"col1":null,"col2":null,"col3":null,"col4":null,"col5":null,"col6":null,"col7":null}`,
			}
			for i := range want {
				if i >= len(ours) || ours[i] != want[i] {
					t.Errorf("image %d:\n got  %v\n want %s", i, ours, want[i])
				}
				if i >= len(plain) || plain[i] != want[i] {
					t.Errorf("image %d, go-mysql's own decoding:\n got  %v\n want %s", i, plain, want[i])
				}
			}
		})
	}
}

// FuzzPackedTemporal holds decodeRows and renderPacked to go-mysql's own
// decoding of any bytes in DATETIME2, TIMESTAMP2 and DATE columns of every
// fraction, with NULLs and unsigned integers beside them.
func FuzzPackedTemporal(f *testing.F) {
	f.Add(byte(6), byte(3), byte(0), []byte("\x99\xb2\x8a\x1c\x2e\x01\xe2\x40"))
	f.Add(byte(0), byte(0), byte(0x0a), []byte{})
	f.Add(byte(5), byte(1), byte(0), []byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Add(byte(2), byte(6), byte(0x80), []byte("\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x0f\x42\x3f"))
	f.Fuzz(func(t *testing.T, dtDec, tsDec, nulls byte, raw []byte) {
		dtDec, tsDec = dtDec%7, tsDec%7
		cols := temporalColumns(dtDec, tsDec)
		img := temporalImage(dtDec, tsDec, nulls, raw)
		plain, ours, perr, oerr := decodeBoth(t, rawFormat(), rawTableMap(cols), rawRows(replication.WRITE_ROWS_EVENTv2, len(cols), img))
		if (perr == nil) != (oerr == nil) {
			t.Fatalf("go-mysql: %v; decodeRows: %v", perr, oerr)
		}
		if len(plain) != len(ours) {
			t.Fatalf("go-mysql %d images, decodeRows %d", len(plain), len(ours))
		}
		for i := range plain {
			if plain[i] != ours[i] {
				t.Fatalf("image %d:\n go-mysql   %s\n decodeRows %s", i, plain[i], ours[i])
			}
		}
	})
}

// FuzzISOTime holds appendISOTime to kit.ISOTime's string, quoted.
func FuzzISOTime(f *testing.F) {
	for _, s := range []string{"2024-01-02 03:04:05", "2024-01-02 03:04:05.5", "0000-00-00 00:00:00", "12345-01-02 03:04:05", "2024-01-02", "", "-001-01-01 00:00:00"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, utc bool) {
		for i := 0; i < len(s); i++ {
			if c := s[i]; (c < '0' || c > '9') && c != '-' && c != ':' && c != ' ' && c != '.' {
				return // appendISOTime's contract: go-mysql's temporal strings only
			}
		}
		want := api.AppendJSONString(nil, kit.ISOTime(s, utc))
		if got := appendISOTime(nil, []byte(s), utc); string(got) != string(want) {
			t.Fatalf("appendISOTime(%q, %v) = %s, want %s", s, utc, got, want)
		}
	})
}
