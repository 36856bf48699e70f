package mysql

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// Row events carry text in the column's own character set, while the
// snapshot reads it converted to the connection's utf8mb4 by the server.
// textEncodings maps the server's character sets to their decoders so the
// two renderings agree; nil means the bytes are UTF-8 already. A character
// set missing here fails the stream (ErrDecode) rather than mangle text.
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

// collationCharsets reads the server's collation ids and their character
// sets (row events name a column's collation by id).
func collationCharsets(ctx context.Context, q queryer) (map[uint64]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID IS NOT NULL")
	if err != nil {
		return nil, fmt.Errorf("mysql-cdc: collations: %w", err)
	}
	defer rows.Close()
	out := map[uint64]string{}
	for rows.Next() {
		var id uint64
		var cs string
		if err := rows.Scan(&id, &cs); err != nil {
			return nil, fmt.Errorf("mysql-cdc: collations: %w", err)
		}
		out[id] = strings.ToLower(cs)
	}
	return out, rows.Err()
}

// textEncoding returns the decoder of collation coll (nil: UTF-8). A
// collation the server did not list is taken as UTF-8.
func textEncoding(charsets map[uint64]string, coll uint64) (encoding.Encoding, string, bool) {
	cs, ok := charsets[coll]
	if !ok {
		return nil, "", true
	}
	enc, ok := textEncodings[cs]
	return enc, cs, ok
}

// decodeText converts s from enc to UTF-8.
func decodeText(enc encoding.Encoding, s string) (string, error) {
	return enc.NewDecoder().String(s)
}

// decodeMembers converts, in place, the ENUM and SET member names of
// columns whose character set is not UTF-8 (colls: their collations).
func decodeMembers(charsets map[uint64]string, colls map[int]uint64, lists ...map[int][]string) error {
	for i, coll := range colls {
		enc, cs, ok := textEncoding(charsets, coll)
		if !ok {
			return fmt.Errorf("%w: ENUM/SET column %d is in character set %s, which the connector cannot convert to UTF-8", ErrDecode, i, cs)
		}
		if enc == nil {
			continue
		}
		for _, l := range lists {
			if l[i] == nil {
				continue
			}
			l[i] = slices.Clone(l[i]) // the decoder's own slices stay as decoded
			for k, n := range l[i] {
				u, err := decodeText(enc, n)
				if err != nil {
					return fmt.Errorf("%w: ENUM/SET column %d: %v", ErrDecode, i, err)
				}
				l[i][k] = u
			}
		}
	}
	return nil
}
