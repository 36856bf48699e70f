package mysql

import (
	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"

	"fmt"
	"strconv"
	"strings"

	"golang.org/x/text/encoding"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// kind is how a column's values are rendered in JSON: the kinds of
// kit.ValueKind, which the dts source renders its values by too.
type kind = kit.ValueKind

const (
	kindString    = kit.KindString    // text, JSON string
	kindNumber    = kit.KindNumber    // integers, floats, YEAR: JSON number
	kindDecimal   = kit.KindDecimal   // DECIMAL: exact JSON string
	kindDatetime  = kit.KindDatetime  // DATETIME: "2006-01-02T15:04:05[.ffffff]", no zone
	kindTimestamp = kit.KindTimestamp // TIMESTAMP: "2006-01-02T15:04:05[.ffffff]Z", UTC
	kindDate      = kit.KindDate      // DATE: "2006-01-02"
	kindTime      = kit.KindTime      // TIME: "[-]HHH:MM:SS[.ffffff]"
	kindBit       = kit.KindBit       // BIT: JSON number (unsigned)
	kindEnum      = kit.KindEnum      // ENUM: the value's name
	kindSet       = kit.KindSet       // SET: comma-separated names
	kindJSON      = kit.KindJSON      // JSON: inline JSON
	kindBinary    = kit.KindBinary    // BINARY, VARBINARY, BLOB, GEOMETRY: base64 string
)

// column is what rendering one column's values needs.
type column struct {
	name     string
	kind     kind
	unsigned bool
	bits     int      // integer width for unsigned wrap-around (8..64)
	names    []string // ENUM/SET member names

	// Binlog-only facts, zero for snapshot columns, which the server
	// sends complete and in utf8mb4.
	pad    int               // BINARY(n): n; row events drop trailing zero bytes
	fsp    int               // TIME, DATETIME, TIMESTAMP (fsp); row events drop TIME's zero fraction
	enc    encoding.Encoding // text not in UTF-8: its character set
	packed bool              // values arrive as the integer of their bytes (decodeLayout)
}

// binaryCollation is the collation id of the binary character set.
const binaryCollation = 63

// binlogColumns derives the columns of a table from a TableMapEvent carrying
// binlog_row_metadata=FULL metadata. jsonCols names MariaDB's JSON columns,
// which the binlog shows as LONGTEXT; charsets maps collation ids to
// character sets (see collationCharsets). A text column in a character set
// the connector cannot convert to UTF-8 is an ErrDecode.
func binlogColumns(types []byte, metas []uint16, names []string, unsigned map[int]bool,
	collations map[int]uint64, enums, sets map[int][]string, jsonCols map[string]bool, charsets map[uint64]string,
) ([]column, error) {
	cols := make([]column, len(types))
	for i, t := range types {
		c := &cols[i]
		if i < len(names) {
			c.name = names[i]
		} else {
			c.name = "col" + strconv.Itoa(i) // no FULL metadata: positional names
		}
		c.unsigned = unsigned[i]
		var m uint16
		if i < len(metas) {
			m = metas[i]
		}
		_, c.packed = packedWidth(t, m)
		if t == gmysql.MYSQL_TYPE_STRING && i < len(metas) {
			if rt := byte(metas[i] >> 8); rt == gmysql.MYSQL_TYPE_ENUM || rt == gmysql.MYSQL_TYPE_SET {
				t = rt
			}
		}
		switch t {
		case gmysql.MYSQL_TYPE_TINY:
			c.kind, c.bits = kindNumber, 8
		case gmysql.MYSQL_TYPE_SHORT:
			c.kind, c.bits = kindNumber, 16
		case gmysql.MYSQL_TYPE_INT24:
			c.kind, c.bits = kindNumber, 24
		case gmysql.MYSQL_TYPE_LONG:
			c.kind, c.bits = kindNumber, 32
		case gmysql.MYSQL_TYPE_LONGLONG:
			c.kind, c.bits = kindNumber, 64
		case gmysql.MYSQL_TYPE_FLOAT, gmysql.MYSQL_TYPE_DOUBLE, gmysql.MYSQL_TYPE_YEAR:
			c.kind = kindNumber
		case gmysql.MYSQL_TYPE_NEWDECIMAL, gmysql.MYSQL_TYPE_DECIMAL:
			c.kind = kindDecimal
		case gmysql.MYSQL_TYPE_DATETIME, gmysql.MYSQL_TYPE_DATETIME2:
			c.kind, c.fsp = kindDatetime, int(min(m, 6))
		case gmysql.MYSQL_TYPE_TIMESTAMP, gmysql.MYSQL_TYPE_TIMESTAMP2:
			c.kind, c.fsp = kindTimestamp, int(min(m, 6))
		case gmysql.MYSQL_TYPE_DATE, gmysql.MYSQL_TYPE_NEWDATE:
			c.kind = kindDate
		case gmysql.MYSQL_TYPE_TIME:
			c.kind = kindTime
		case gmysql.MYSQL_TYPE_TIME2:
			c.kind = kindTime
			c.fsp = int(min(m, 6))
		case gmysql.MYSQL_TYPE_BIT:
			c.kind = kindBit
		case gmysql.MYSQL_TYPE_ENUM:
			c.kind, c.names = kindEnum, enums[i]
		case gmysql.MYSQL_TYPE_SET:
			c.kind, c.names = kindSet, sets[i]
		case gmysql.MYSQL_TYPE_JSON:
			c.kind = kindJSON
		case gmysql.MYSQL_TYPE_GEOMETRY:
			c.kind = kindBinary
		default: // VARCHAR, STRING, BLOB: text unless the binary charset
			c.kind = kindString
			coll, ok := collations[i]
			switch {
			case ok && coll == binaryCollation:
				c.kind = kindBinary
				if t == gmysql.MYSQL_TYPE_STRING && i < len(metas) {
					c.pad = fixedLength(metas[i])
				}
			case jsonCols[c.name]:
				c.kind = kindJSON
			}
			if ok && coll != binaryCollation {
				enc, cs, known := textEncoding(charsets, coll)
				if !known {
					return nil, fmt.Errorf("%w: column %s is in character set %s, which the connector cannot convert to UTF-8", ErrDecode, c.name, cs)
				}
				c.enc = enc
			}
		}
	}
	return cols, nil
}

// fixedLength is the byte length of a CHAR/BINARY column from its
// table-map metadata: the low byte, with two more bits hidden in the real
// type byte for lengths above 255 (MySQL's Field_string::save_field_metadata).
func fixedLength(meta uint16) int {
	b0, b1 := byte(meta>>8), byte(meta)
	if b0&0x30 != 0x30 {
		return int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
	}
	return int(b1)
}

// appendBinlogValue appends v, a value decoded by go-mysql's row parser
// (ParseTime off, UseDecimal off, TIMESTAMP in UTC) with decodeLayout's
// table map, as JSON.
func appendBinlogValue(b []byte, c *column, v any) ([]byte, error) {
	if v == nil {
		return append(b, "null"...), nil
	}
	switch x := v.(type) {
	case int8:
		return appendInt(b, c, int64(x)), nil
	case int16:
		return appendInt(b, c, int64(x)), nil
	case int32:
		return appendInt(b, c, int64(x)), nil
	case int64:
		switch c.kind {
		case kindEnum:
			return appendEnum(b, c, x), nil
		case kindSet:
			return appendSet(b, c, uint64(x)), nil
		case kindBit:
			return strconv.AppendUint(b, uint64(x), 10), nil
		}
		if c.packed {
			return renderPacked(b, c, x), nil
		}
		return appendInt(b, c, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float32:
		return appendFloat(b, float64(x), 32)
	case float64:
		return appendFloat(b, x, 64)
	case string:
		if c.pad > 0 || c.fsp > 0 || c.enc != nil {
			return appendBinlogString(b, c, x)
		}
		return appendText(b, c, x)
	case []byte:
		if c.enc != nil {
			return appendBinlogString(b, c, string(x))
		}
		return appendText(b, c, string(x))
	}
	if _, ok := v.(*replication.JsonDiff); ok {
		return b, fmt.Errorf("%w: column %s holds a partial JSON update; set binlog_row_value_options='' on the server so row events carry whole JSON documents", ErrDecode, c.name)
	}
	return b, fmt.Errorf("%w: column %s: unsupported value type %T", ErrDecode, c.name, v)
}

// appendBinlogString restores what row events leave out of a string value
// before rendering it like the snapshot's: BINARY(n)'s trailing zero bytes,
// TIME(fsp)'s zero fraction, and the conversion of non-UTF-8 text.
func appendBinlogString(b []byte, c *column, s string) ([]byte, error) {
	switch {
	case c.kind == kindBinary && len(s) < c.pad:
		p := make([]byte, c.pad)
		copy(p, s)
		s = string(p)
	case c.kind == kindTime && c.fsp > 0 && strings.IndexByte(s, '.') < 0:
		s += ".000000"[:c.fsp+1]
	case c.enc != nil && c.kind != kindBinary:
		u, err := decodeText(c.enc, s)
		if err != nil {
			return b, fmt.Errorf("%w: column %s: %v", ErrDecode, c.name, err)
		}
		s = u
	}
	return appendText(b, c, s)
}

// appendInt renders a signed integer, undoing the sign for unsigned columns
// when the decoder gave a signed value.
func appendInt(b []byte, c *column, x int64) []byte {
	if c.unsigned && x < 0 && c.bits > 0 && c.bits < 64 {
		return strconv.AppendUint(b, uint64(x)&(1<<c.bits-1), 10)
	}
	if c.unsigned && x < 0 {
		return strconv.AppendUint(b, uint64(x), 10)
	}
	return strconv.AppendInt(b, x, 10)
}

func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	return kit.AppendFloat(b, f, bits), nil
}

func appendEnum(b []byte, c *column, idx int64) []byte {
	// Index 0 is the empty "error" value MySQL stores for invalid input.
	if idx <= 0 || int(idx) > len(c.names) {
		if idx == 0 {
			return append(b, `""`...)
		}
		return strconv.AppendInt(b, idx, 10) // no metadata: the index
	}
	return api.AppendJSONString(b, c.names[idx-1])
}

func appendSet(b []byte, c *column, bits uint64) []byte {
	if len(c.names) == 0 {
		return strconv.AppendUint(b, bits, 10)
	}
	b = append(b, '"')
	first := true
	for i, n := range c.names {
		if i < 64 && bits&(1<<i) != 0 {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = api.AppendJSONEscaped(b, n)
		}
	}
	return append(b, '"')
}

// appendText renders a textual value (from the binlog decoder or the text
// protocol) by the column's kind.
func appendText(b []byte, c *column, s string) ([]byte, error) {
	return kit.AppendText(b, c.kind, s), nil
}

// isNumber reports whether s is a JSON number.
func isNumber(s string) bool { return kit.IsNumber(s) }

// textColumn derives a column from the text protocol's type name (as
// go-sql-driver/mysql reports it) for snapshot reads.
func textColumn(name, dbType string, jsonCols map[string]bool) column {
	c := column{name: name}
	t := strings.TrimPrefix(dbType, "UNSIGNED ")
	c.unsigned = t != dbType
	switch t {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "YEAR", "FLOAT", "DOUBLE", "REAL":
		c.kind = kindNumber
	case "DECIMAL", "NUMERIC":
		c.kind = kindDecimal
	case "DATETIME":
		c.kind = kindDatetime
	case "TIMESTAMP":
		c.kind = kindTimestamp
	case "DATE":
		c.kind = kindDate
	case "TIME":
		c.kind = kindTime
	case "BIT":
		c.kind = kindBit
	case "JSON":
		c.kind = kindJSON
	case "BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "GEOMETRY":
		c.kind = kindBinary
	default: // CHAR, VARCHAR, TEXT…, ENUM and SET (already names)
		c.kind = kindString
		if jsonCols[name] {
			c.kind = kindJSON
		}
	}
	return c
}

// renderRow appends the JSON object {"name":value,…} of the columns in idx
// (all when nil); a value missing from vals renders as V's zero value.
func renderRow[V any](b []byte, cols []column, idx []int, vals []V, value func([]byte, *column, V) ([]byte, error)) ([]byte, error) {
	b = append(b, '{')
	n := len(cols)
	if idx != nil {
		n = len(idx)
	}
	var err error
	for j := range n {
		i := j
		if idx != nil {
			i = idx[j]
		}
		if j > 0 {
			b = append(b, ',')
		}
		b = api.AppendJSONString(b, cols[i].name)
		b = append(b, ':')
		var v V
		if i < len(vals) {
			v = vals[i]
		}
		if b, err = value(b, &cols[i], v); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}
