package dts

import (
	"strconv"
	"time"
)

// Value is one column value in a row image. The concrete types mirror the
// value records of the DTS schema one to one; a nil Value is SQL NULL.
type Value interface {
	dtsValue()
}

// Integer carries every MySQL integer type (and BIT) as decimal text, so
// unsigned BIGINT survives without overflow.
type Integer struct {
	Precision int32  `avro:"precision"`
	Value     string `avro:"value"`
}

// Character carries text as raw bytes in the column's charset (for example
// "utf8mb4" or "latin1"); DTS does not transcode.
type Character struct {
	Charset string `avro:"charset"`
	Value   []byte `avro:"value"`
}

// Decimal carries DECIMAL/NUMERIC as exact decimal text.
type Decimal struct {
	Value     string `avro:"value"`
	Precision int32  `avro:"precision"`
	Scale     int32  `avro:"scale"`
}

// Float carries FLOAT and DOUBLE.
type Float struct {
	Value     float64 `avro:"value"`
	Precision int32   `avro:"precision"`
	Scale     int32   `avro:"scale"`
}

// Timestamp carries MySQL TIMESTAMP: Unix seconds plus the fractional part.
// Despite the field name DTS fills Millis with MICROseconds (0..999999), the
// precision of TIMESTAMP(6); DTS's own readers print it zero-padded to six
// digits.
type Timestamp struct {
	Timestamp int64 `avro:"timestamp"`
	Millis    int32 `avro:"millis"`
}

// DateTime carries DATE, TIME, DATETIME and YEAR; the parts a type lacks are
// nil (YEAR sets only Year, TIME only the clock). Millis is microseconds, as in
// Timestamp.
type DateTime struct {
	Year   *int32 `avro:"year"`
	Month  *int32 `avro:"month"`
	Day    *int32 `avro:"day"`
	Hour   *int32 `avro:"hour"`
	Minute *int32 `avro:"minute"`
	Second *int32 `avro:"second"`
	Millis *int32 `avro:"millis"`
}

// TimestampWithTimeZone carries a wall time with its zone name or offset.
type TimestampWithTimeZone struct {
	Value    DateTime `avro:"value"`
	Timezone string   `avro:"timezone"`
}

// BinaryGeometry carries spatial values as WKB.
type BinaryGeometry struct {
	Type  string `avro:"type"`
	Value []byte `avro:"value"`
}

// TextGeometry carries spatial values as WKT.
type TextGeometry struct {
	Type  string `avro:"type"`
	Value string `avro:"value"`
}

// BinaryObject carries BLOB/BINARY types; Type names the MySQL type.
type BinaryObject struct {
	Type  string `avro:"type"`
	Value []byte `avro:"value"`
}

// TextObject carries JSON, ENUM and SET as UTF-8 text; Type names the MySQL type.
type TextObject struct {
	Type  string `avro:"type"`
	Value string `avro:"value"`
}

// EmptyObject is DTS's marker for a value that exists but carries nothing
// (EmptyNull or EmptyNone), distinct from SQL NULL.
type EmptyObject string

// EmptyObject symbols.
const (
	EmptyNull EmptyObject = "NULL"
	EmptyNone EmptyObject = "NONE"
)

func (Integer) dtsValue()               {}
func (Character) dtsValue()             {}
func (Decimal) dtsValue()               {}
func (Float) dtsValue()                 {}
func (Timestamp) dtsValue()             {}
func (DateTime) dtsValue()              {}
func (TimestampWithTimeZone) dtsValue() {}
func (BinaryGeometry) dtsValue()        {}
func (TextGeometry) dtsValue()          {}
func (BinaryObject) dtsValue()          {}
func (TextObject) dtsValue()            {}
func (EmptyObject) dtsValue()           {}

// Int returns v the way DTS sends a 64-bit integer column.
func Int(v int64) Integer { return Integer{Precision: 64, Value: strconv.FormatInt(v, 10)} }

// Uint returns v the way DTS sends an unsigned 64-bit integer column.
func Uint(v uint64) Integer { return Integer{Precision: 64, Value: strconv.FormatUint(v, 10)} }

// Text returns s as a utf8mb4 character value.
func Text(s string) Character { return Character{Charset: "utf8mb4", Value: []byte(s)} }

// Dec returns the exact decimal text v with its column precision and scale.
func Dec(v string, precision, scale int32) Decimal {
	return Decimal{Value: v, Precision: precision, Scale: scale}
}

// TimestampOf returns t as a MySQL TIMESTAMP(6) value.
func TimestampOf(t time.Time) Timestamp {
	return Timestamp{Timestamp: t.Unix(), Millis: int32(t.Nanosecond() / 1000)}
}

// Time returns the instant a Timestamp value denotes.
func (v Timestamp) Time() time.Time {
	return time.Unix(v.Timestamp, int64(v.Millis)*1000).UTC()
}

// DateTimeOf returns the wall clock of t (in t's location) as a DATETIME(6) value.
func DateTimeOf(t time.Time) DateTime {
	p := func(v int) *int32 { x := int32(v); return &x }
	return DateTime{
		Year: p(t.Year()), Month: p(int(t.Month())), Day: p(t.Day()),
		Hour: p(t.Hour()), Minute: p(t.Minute()), Second: p(t.Second()),
		Millis: p(t.Nanosecond() / 1000),
	}
}

// DateOf returns the calendar date of t as a DATE value.
func DateOf(t time.Time) DateTime {
	d := DateTimeOf(t)
	return DateTime{Year: d.Year, Month: d.Month, Day: d.Day}
}

// Bytes returns b as a BLOB value.
func Bytes(b []byte) BinaryObject { return BinaryObject{Type: "BLOB", Value: b} }

// JSON returns doc as a JSON column value.
func JSON(doc string) TextObject { return TextObject{Type: "JSON", Value: doc} }

// ColumnType is a MySQL binlog column type number, carried in
// Record.fields[].dataTypeNumber; it tells a reader which value record to
// expect and how to render it.
type ColumnType int32

// MySQL column types as DTS numbers them (the binlog protocol's numbering).
const (
	TypeDecimal    ColumnType = 0
	TypeTiny       ColumnType = 1
	TypeShort      ColumnType = 2
	TypeLong       ColumnType = 3
	TypeFloat      ColumnType = 4
	TypeDouble     ColumnType = 5
	TypeNull       ColumnType = 6
	TypeTimestamp  ColumnType = 7
	TypeLongLong   ColumnType = 8
	TypeInt24      ColumnType = 9
	TypeDate       ColumnType = 10
	TypeTime       ColumnType = 11
	TypeDateTime   ColumnType = 12
	TypeYear       ColumnType = 13
	TypeNewDate    ColumnType = 14
	TypeVarchar    ColumnType = 15
	TypeBit        ColumnType = 16
	TypeJSON       ColumnType = 245
	TypeNewDecimal ColumnType = 246
	TypeEnum       ColumnType = 247
	TypeSet        ColumnType = 248
	TypeTinyBlob   ColumnType = 249
	TypeMediumBlob ColumnType = 250
	TypeLongBlob   ColumnType = 251
	TypeBlob       ColumnType = 252
	TypeVarString  ColumnType = 253
	TypeString     ColumnType = 254
	TypeGeometry   ColumnType = 255
)

// fits reports whether v is the value record DTS sends for a column of type t.
// DTS's readers pick a converter by the type number and cast the value to one
// record type, so a mismatch would break a real client; nil (SQL NULL) and
// EmptyObject fit every column, and type numbers DTS does not document accept
// anything.
func fits(t ColumnType, v Value) bool {
	switch v.(type) {
	case nil, EmptyObject:
		return true
	}
	switch t {
	case TypeDecimal, TypeNewDecimal:
		_, ok := v.(Decimal)
		return ok
	case TypeTiny, TypeShort, TypeLong, TypeLongLong, TypeInt24, TypeBit:
		_, ok := v.(Integer)
		return ok
	case TypeFloat, TypeDouble:
		_, ok := v.(Float)
		return ok
	case TypeTimestamp:
		_, ok := v.(Timestamp)
		return ok
	case TypeDate, TypeTime, TypeDateTime, TypeYear, TypeNewDate:
		_, ok := v.(DateTime)
		return ok
	case TypeVarchar, TypeVarString, TypeString:
		_, ok := v.(Character)
		return ok
	case TypeGeometry:
		switch v.(type) {
		case BinaryGeometry, TextGeometry:
			return true
		}
		return false
	case TypeTinyBlob, TypeMediumBlob, TypeLongBlob, TypeBlob:
		_, ok := v.(BinaryObject)
		return ok
	case TypeJSON, TypeEnum, TypeSet:
		_, ok := v.(TextObject)
		return ok
	default:
		return true
	}
}
