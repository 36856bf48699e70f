package mysql

import (
	"context"
	"fmt"
	"github.com/ferryhq/ferry/connectors/kit"
	"slices"
	"strings"

	"golang.org/x/text/encoding"
)

// Row events carry text in the column's own character set, while the
// snapshot reads it converted to the connection's utf8mb4 by the server;
// kit.TextEncoding maps the server's character sets to their decoders so
// the two renderings agree. A character set it does not know fails the
// stream (ErrDecode) rather than mangle text.

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
	enc, ok := kit.TextEncoding(cs)
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
