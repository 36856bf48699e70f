package kit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"

	"github.com/ferryhq/ferry/api"
)

// ValueKind is how a change event renders a column's values in JSON. The
// change-data-capture sources (mysql-cdc, dts) map their own column types
// onto these kinds, so one row renders the same whichever source read it.
type ValueKind uint8

// Value kinds.
const (
	KindString    ValueKind = iota // text, JSON string
	KindNumber                     // integers, floats, YEAR: JSON number
	KindDecimal                    // DECIMAL: exact JSON string
	KindDatetime                   // DATETIME: "2006-01-02T15:04:05[.ffffff]", no zone
	KindTimestamp                  // TIMESTAMP: "2006-01-02T15:04:05[.ffffff]Z", UTC
	KindDate                       // DATE: "2006-01-02"
	KindTime                       // TIME: "[-]HHH:MM:SS[.ffffff]"
	KindBit                        // BIT: JSON number (unsigned)
	KindEnum                       // ENUM: the value's name
	KindSet                        // SET: comma-separated names
	KindJSON                       // JSON: inline JSON
	KindBinary                     // BINARY, VARBINARY, BLOB, GEOMETRY: base64 string
)

// AppendText appends s, a column value in MySQL's text form, rendered as
// JSON by the column's kind: numbers stay numbers (text that is not a
// JSON number becomes a string), BIT's big-endian bytes an unsigned
// number, DATETIME and TIMESTAMP ISO 8601 (see ISOTime), JSON inline
// (compacted), binary values base64, the rest JSON strings.
func AppendText(b []byte, k ValueKind, s string) []byte {
	switch k {
	case KindNumber:
		if !IsNumber(s) {
			return api.AppendJSONString(b, s)
		}
		return append(b, s...)
	case KindBit:
		var u uint64
		for i := 0; i < len(s); i++ {
			u = u<<8 | uint64(s[i])
		}
		return strconv.AppendUint(b, u, 10)
	case KindDatetime:
		return api.AppendJSONString(b, ISOTime(s, false))
	case KindTimestamp:
		return api.AppendJSONString(b, ISOTime(s, true))
	case KindJSON:
		if s == "" {
			return append(b, "null"...)
		}
		if json.Valid([]byte(s)) {
			return appendCompactJSON(b, s)
		}
		return api.AppendJSONString(b, s)
	case KindBinary:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, []byte(s))
		return append(b, '"')
	}
	return api.AppendJSONString(b, s)
}

// AppendFloat appends f as a JSON number of the given bit size (32 for
// FLOAT, 64 for DOUBLE), shortest form; NaN and infinities, which JSON
// has no number for, as strings.
func AppendFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return api.AppendJSONString(b, strconv.FormatFloat(f, 'g', -1, bits))
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

// appendCompactJSON appends valid JSON text without insignificant space, so
// every rendering of one document agrees byte for byte.
func appendCompactJSON(b []byte, s string) []byte {
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, []byte(s)); err != nil {
		return api.AppendJSONString(b, s)
	}
	return buf.Bytes()
}

// ISOTime turns MySQL's "2006-01-02 15:04:05[.ffffff]" into ISO 8601,
// adding Z when utc (TIMESTAMP, rendered in UTC). Zero dates stay as MySQL
// shows them, since no instant matches them.
func ISOTime(s string, utc bool) string {
	if strings.HasPrefix(s, "0000-00-00") || len(s) < 19 || s[10] != ' ' {
		return s
	}
	t := s[:10] + "T" + s[11:]
	if utc {
		t += "Z"
	}
	return t
}

// IsNumber reports whether s is a JSON number.
func IsNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	i = skipDigits(s, i)
	if i == start || (i-start > 1 && s[start] == '0') {
		return false
	}
	if i < len(s) && s[i] == '.' {
		if j := skipDigits(s, i+1); j > i+1 {
			i = j
		} else {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := skipDigits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

// skipDigits returns the index of the first non-digit of s at or after i.
func skipDigits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// textEncodings maps MySQL's character sets to their decoders; nil means
// the bytes are UTF-8 already.
var textEncodings = map[string]encoding.Encoding{
	"utf8": nil, "utf8mb3": nil, "utf8mb4": nil, "ascii": nil,
	// MySQL's latin1 is Windows-1252 with the five undefined bytes as C1
	// controls, which is what x/text's (WHATWG) decoder does too.
	"latin1": charmap.Windows1252, "latin2": charmap.ISO8859_2, "latin5": charmap.ISO8859_9,
	"latin7": charmap.ISO8859_13, "greek": charmap.ISO8859_7, "hebrew": charmap.ISO8859_8,
	"cp1250": charmap.Windows1250, "cp1251": charmap.Windows1251, "cp1256": charmap.Windows1256,
	"cp1257": charmap.Windows1257, "cp850": charmap.CodePage850, "cp852": charmap.CodePage852,
	"cp866": charmap.CodePage866, "koi8r": charmap.KOI8R, "koi8u": charmap.KOI8U,
	"macroman": charmap.Macintosh, "tis620": charmap.Windows874,
	"cp932": japanese.ShiftJIS, "ujis": japanese.EUCJP, "eucjpms": japanese.EUCJP,
	"gbk": simplifiedchinese.GBK, "gb2312": simplifiedchinese.GBK, "gb18030": simplifiedchinese.GB18030,
	"big5": traditionalchinese.Big5, "euckr": korean.EUCKR,
	"ucs2": unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "utf16": unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	"utf16le": unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "utf32": utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM),
}

// TextEncoding returns the decoder of MySQL character set cs (lower
// case) to UTF-8: nil for sets that are UTF-8 already, ok false for a set
// no decoder is known for (a source fails rather than mangle text).
func TextEncoding(cs string) (enc encoding.Encoding, ok bool) {
	enc, ok = textEncodings[cs]
	return enc, ok
}

// BeginEnvelope starts a change event's data (Debezium's envelope) with
// its before image; the caller appends the image (or null), then
// `,"after":` and that image, then `,"source":` and its source block, and
// finishes with EndEnvelope.
func BeginEnvelope(sizeHint int) []byte {
	d := make([]byte, 0, sizeHint)
	return append(d, `{"before":`...)
}

// EndEnvelope appends the op letter (c, u, d or r) and ts_ms (when the
// event was made, Unix milliseconds) and closes the envelope.
func EndEnvelope(d []byte, op byte, tsMs int64) []byte {
	d = append(d, `,"op":"`...)
	d = append(d, op)
	d = append(d, `","ts_ms":`...)
	d = strconv.AppendInt(d, tsMs, 10)
	return append(d, '}')
}
