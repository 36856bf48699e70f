package rds

import (
	"errors"
	"fmt"
)

// parseNamed rewrites the :name placeholders of a MySQL statement to ? and
// returns the names in order (a name used twice appears twice). Text inside
// quotes, backquoted identifiers and comments is left alone, as is the :=
// operator, so a colon there is never taken for a placeholder.
func parseNamed(q string) (string, []string, error) {
	out := make([]byte, 0, len(q))
	var names []string
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			end, err := skipQuoted(q, i)
			if err != nil {
				return "", nil, err
			}
			out = append(out, q[i:end]...)
			i = end
		case c == '#' || (c == '-' && i+2 < len(q) && q[i+1] == '-' && isCommentSpace(q[i+2])) || (c == '-' && i+2 == len(q) && q[i+1] == '-'):
			end := i
			for end < len(q) && q[end] != '\n' {
				end++
			}
			out = append(out, q[i:end]...)
			i = end
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end := -1
			for j := i + 2; j+1 < len(q); j++ {
				if q[j] == '*' && q[j+1] == '/' {
					end = j + 2
					break
				}
			}
			if end < 0 {
				return "", nil, errors.New("unterminated /* comment")
			}
			out = append(out, q[i:end]...)
			i = end
		case c == '?':
			return "", nil, fmt.Errorf("positional placeholder ? at byte %d: use :name placeholders bound through sql.params", i)
		case c == ':' && i+1 < len(q) && isNameStart(q[i+1]) && (i == 0 || !isNameByte(q[i-1])):
			j := i + 1
			for j < len(q) && isNameByte(q[j]) {
				j++
			}
			names = append(names, q[i+1:j])
			out = append(out, '?')
			i = j
		default:
			out = append(out, c)
			i++
		}
	}
	return string(out), names, nil
}

// skipQuoted returns the index just after the quoted text starting at i.
// Inside quotes a doubled quote is one literal quote and, except in
// backquoted identifiers, a backslash escapes the next byte (MySQL's
// default sql_mode).
func skipQuoted(q string, i int) (int, error) {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			if quote != '`' {
				j++
			}
		case quote:
			if j+1 < len(q) && q[j+1] == quote {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated %c quote starting at byte %d", quote, i)
}

func isCommentSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c < ' ' }

func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isNameByte(c byte) bool { return isNameStart(c) || (c >= '0' && c <= '9') }
