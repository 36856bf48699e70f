package smt

import (
	"fmt"
	"strings"
)

// javaLayout translates a Java SimpleDateFormat pattern, as Kafka's
// TimestampConverter takes in "format", into a Go time layout. It supports
// the letters that have a Go equivalent:
//
//	y yy yyyy  M MM MMM MMMM  d dd  H HH  h hh  m mm  s ss  S… (after . or ,)
//	E EEE EEEE  a  z  Z  X XX XXX  'quoted text'  ''
//
// Go layouts have no escape, so literal text that Go would read as a
// layout element (digits, Jan, Mon, MST, PM, …) is rejected instead of
// producing wrong output.
func javaLayout(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		if c == '\'' {
			j := i + 1
			if j < len(p) && p[j] == '\'' { // '' is a literal quote
				b.WriteByte('\'')
				i += 2
				continue
			}
			end := strings.IndexByte(p[j:], '\'')
			if end < 0 {
				return "", fmt.Errorf("unterminated quote in %q", p)
			}
			if err := literal(&b, p[j:j+end]); err != nil {
				return "", err
			}
			i = j + end + 1
			continue
		}
		if !isLetter(c) {
			if err := literal(&b, string(c)); err != nil {
				return "", err
			}
			i++
			continue
		}
		n := 1
		for i+n < len(p) && p[i+n] == c {
			n++
		}
		el, err := javaElement(c, n, b.String())
		if err != nil {
			return "", err
		}
		b.WriteString(el)
		i += n
	}
	return b.String(), nil
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// javaElement returns the Go layout element for n repetitions of letter c;
// before is the layout so far (fractions must follow a separator in Go).
func javaElement(c byte, n int, before string) (string, error) {
	pick := func(short, long string, min int) string {
		if n >= min {
			return long
		}
		return short
	}
	switch c {
	case 'y':
		if n == 2 {
			return "06", nil
		}
		return "2006", nil
	case 'M':
		switch {
		case n >= 4:
			return "January", nil
		case n == 3:
			return "Jan", nil
		}
		return pick("1", "01", 2), nil
	case 'd':
		return pick("2", "02", 2), nil
	case 'H':
		return "15", nil
	case 'h':
		return pick("3", "03", 2), nil
	case 'm':
		return pick("4", "04", 2), nil
	case 's':
		return pick("5", "05", 2), nil
	case 'S':
		if !strings.HasSuffix(before, ".") && !strings.HasSuffix(before, ",") {
			return "", fmt.Errorf("fraction of second (S) must follow '.' or ','")
		}
		return strings.Repeat("0", n), nil
	case 'E':
		return pick("Mon", "Monday", 4), nil
	case 'a':
		return "PM", nil
	case 'z':
		return "MST", nil
	case 'Z':
		return "-0700", nil
	case 'X':
		switch n {
		case 1:
			return "Z07", nil
		case 2:
			return "Z0700", nil
		default:
			return "Z07:00", nil
		}
	}
	return "", fmt.Errorf("pattern letter %q has no Go equivalent", string(c))
}

// goTokens are the words a Go layout interprets; literal text must not
// contain them.
var goTokens = []string{"Jan", "Mon", "MST", "PM", "pm", "Z07", "__"}

func literal(b *strings.Builder, s string) error {
	for _, t := range goTokens {
		if strings.Contains(s, t) {
			return fmt.Errorf("literal text %q cannot be expressed in a Go layout", s)
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			return fmt.Errorf("literal digits %q cannot be expressed in a Go layout", s)
		}
	}
	b.WriteString(s)
	return nil
}
