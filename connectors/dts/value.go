package dts

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// MySQL column type numbers, as DTS carries them in Record.fields.
const (
	typeDecimal    = 0
	typeTiny       = 1
	typeShort      = 2
	typeLong       = 3
	typeFloat      = 4
	typeDouble     = 5
	typeTimestamp  = 7
	typeLongLong   = 8
	typeInt24      = 9
	typeDate       = 10
	typeTime       = 11
	typeDateTime   = 12
	typeYear       = 13
	typeNewDate    = 14
	typeVarchar    = 15
	typeBit        = 16
	typeJSON       = 245
	typeNewDecimal = 246
	typeEnum       = 247
	typeSet        = 248
	typeTinyBlob   = 249
	typeMediumBlob = 250
	typeLongBlob   = 251
	typeBlob       = 252
	typeVarString  = 253
	typeString     = 254
	typeGeometry   = 255
)

// kindOf maps a DTS column type onto the value kinds mysql-cdc renders
// by, so a row reads the same from either source.
func kindOf(t int32) kit.ValueKind {
	switch t {
	case typeTiny, typeShort, typeLong, typeLongLong, typeInt24, typeFloat, typeDouble, typeYear, typeBit:
		return kit.KindNumber // BIT comes as decimal text, not bytes
	case typeDecimal, typeNewDecimal:
		return kit.KindDecimal
	case typeTimestamp:
		return kit.KindTimestamp
	case typeDate, typeNewDate:
		return kit.KindDate
	case typeTime:
		return kit.KindTime
	case typeDateTime:
		return kit.KindDatetime
	case typeJSON:
		return kit.KindJSON
	case typeEnum:
		return kit.KindEnum
	case typeSet:
		return kit.KindSet
	case typeTinyBlob, typeMediumBlob, typeLongBlob, typeBlob, typeGeometry:
		return kit.KindBinary
	}
	return kit.KindString
}

// appendImage appends a row image as the JSON object {"column":value,…}.
func appendImage(b []byte, fields []field, img []any) ([]byte, error) {
	if len(img) != len(fields) {
		return nil, fmt.Errorf("%w: %d values for %d fields", ErrMalformed, len(img), len(fields))
	}
	b = append(b, '{')
	var err error
	for i := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = api.AppendJSONString(b, fields[i].Name)
		b = append(b, ':')
		if b, err = appendValue(b, fields[i].DataTypeNumber, img[i]); err != nil {
			return nil, fmt.Errorf("column %s: %w", fields[i].Name, err)
		}
	}
	return append(b, '}'), nil
}

// appendValue renders one DTS value of a column of type t as mysql-cdc
// renders the same column: see kit.ValueKind.
func appendValue(b []byte, t int32, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil, emptyObject:
		return append(b, "null"...), nil
	case integerValue:
		return kit.AppendText(b, kit.KindNumber, x.Value), nil
	case decimalValue:
		return kit.AppendText(b, kit.KindDecimal, x.Value), nil
	case floatValue:
		bits := 64
		if t == typeFloat {
			bits = 32
		}
		return kit.AppendFloat(b, x.Value, bits), nil
	case characterValue:
		k := kindOf(t)
		if x.Charset == "binary" {
			k = kit.KindBinary
		}
		s, err := utf8Text(x)
		if err != nil {
			return nil, err
		}
		return kit.AppendText(b, k, s), nil
	case textObjectValue:
		return kit.AppendText(b, kindOf(t), x.Value), nil
	case textGeometryValue:
		return api.AppendJSONString(b, x.Value), nil
	case binaryObjectValue:
		return appendBase64(b, x.Value), nil
	case binaryGeometryValue:
		return appendBase64(b, x.Value), nil
	case timestampValue:
		tm := time.Unix(x.Timestamp, int64(x.Millis)*1000).UTC()
		return api.AppendJSONString(b, clock(tm.Format("2006-01-02T15:04:05"), int(x.Millis))+"Z"), nil
	case dateTimeValue:
		return appendDateTime(b, t, &x), nil
	case timestampTZValue:
		s := formatDateTime(&x.Value)
		return api.AppendJSONString(b, s+" "+x.Timezone), nil
	}
	return nil, fmt.Errorf("%w: value of type %T", ErrMalformed, v)
}

func appendBase64(b, v []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// utf8Text returns a character value as UTF-8 text.
func utf8Text(x characterValue) (string, error) {
	cs := strings.ToLower(x.Charset)
	if cs == "" || cs == "binary" {
		return string(x.Value), nil
	}
	enc, ok := kit.TextEncoding(cs)
	if !ok {
		return "", fmt.Errorf("%w: character set %s, which the connector cannot convert to UTF-8", ErrMalformed, x.Charset)
	}
	if enc == nil {
		return string(x.Value), nil
	}
	s, err := enc.NewDecoder().String(string(x.Value))
	if err != nil {
		return "", fmt.Errorf("%w: %s text: %v", ErrMalformed, x.Charset, err)
	}
	return s, nil
}

// appendDateTime renders DATE, TIME, DATETIME and YEAR as mysql-cdc does:
// "2006-01-02", "15:04:05[.ffffff]", "2006-01-02T15:04:05[.ffffff]" and a
// number.
func appendDateTime(b []byte, t int32, x *dateTimeValue) []byte {
	switch t {
	case typeYear:
		return strconv.AppendInt(b, int64(deref(x.Year)), 10)
	case typeDate, typeNewDate:
		return api.AppendJSONString(b, fmt.Sprintf("%04d-%02d-%02d", deref(x.Year), deref(x.Month), deref(x.Day)))
	case typeTime:
		return api.AppendJSONString(b, clock(fmt.Sprintf("%02d:%02d:%02d", deref(x.Hour), deref(x.Minute), deref(x.Second)), int(deref(x.Millis))))
	}
	return api.AppendJSONString(b, kit.ISOTime(formatDateTime(x), false))
}

// formatDateTime is MySQL's text form "2006-01-02 15:04:05[.ffffff]".
func formatDateTime(x *dateTimeValue) string {
	s := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", deref(x.Year), deref(x.Month), deref(x.Day),
		deref(x.Hour), deref(x.Minute), deref(x.Second))
	return clock(s, int(deref(x.Millis)))
}

// clock appends a fraction of six digits when micros is not zero (DTS
// does not carry the column's precision).
func clock(s string, micros int) string {
	if micros <= 0 {
		return s
	}
	return s + "." + fmt.Sprintf("%06d", micros%1000000)
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
