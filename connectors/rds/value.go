package rds

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// colKind is what a target column's type means for binding a JSON value.
type colKind uint8

const (
	kindOther    colKind = iota // bind the JSON value's natural form
	kindBinary                  // BINARY, VARBINARY, BLOB: strings are base64
	kindDateTime                // DATETIME, TIMESTAMP: accept RFC 3339 with a zone
	kindDate                    // DATE
	kindInt                     // integer types: exponent numbers go as floats
	kindText                    // character and decimal types: numbers as their exact text
)

// kindOf maps information_schema's DATA_TYPE to a kind.
func kindOf(dataType string) colKind {
	switch strings.ToLower(dataType) {
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return kindBinary
	case "datetime", "timestamp":
		return kindDateTime
	case "date":
		return kindDate
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "bit", "year":
		return kindInt
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "decimal", "numeric", "enum", "set", "json":
		return kindText
	}
	return kindOther
}

// jsonArg converts one JSON value to a statement argument for a column of
// kind k: null → NULL, strings unquoted, booleans 1/0, integers as int64
// (uint64 beyond), other numbers as their exact text or a float, objects
// and arrays as their JSON text. Binary columns take base64 strings (how
// the mysql-cdc source writes them) decoded; date-time columns take RFC
// 3339 text, converted to UTC (the session's zone).
func jsonArg(raw []byte, k colKind) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, nil
	}
	switch raw[0] {
	case 'n':
		if string(raw) == "null" {
			return nil, nil
		}
	case 't':
		if string(raw) == "true" {
			return int64(1), nil
		}
	case 'f':
		if string(raw) == "false" {
			return int64(0), nil
		}
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errBadValue
		}
		return stringArg(s, k), nil
	case '{', '[':
		if !json.Valid(raw) {
			return nil, errBadValue
		}
		return string(raw), nil
	default:
		return numberArg(raw, k)
	}
	return nil, errBadValue
}

func stringArg(s string, k colKind) any {
	switch k {
	case kindBinary:
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return b
		}
	case kindDateTime, kindDate:
		return dateTimeText(s)
	}
	return s
}

// dateTimeText rewrites RFC 3339 text with a zone as UTC wall time, and the
// T separator as a space, so both MySQL and MariaDB accept it.
func dateTimeText(s string) string {
	if len(s) < 11 || s[10] != 'T' {
		return s
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format("2006-01-02 15:04:05.999999")
	}
	return s[:10] + " " + s[11:]
}

func numberArg(raw []byte, k colKind) (any, error) {
	if !json.Valid(raw) {
		return nil, errBadValue
	}
	s := string(raw)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return nil, errBadValue
	}
	if k == kindInt && strings.ContainsAny(s, "eE") {
		return f, nil
	}
	// The text is exact; the server converts it to the column's type.
	return s, nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
