package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxDocDepth bounds how deeply a connector or offsets file may nest; real
// ones are two or three levels deep.
const maxDocDepth = 64

// parseDocFile parses a connector or offsets file into maps, lists,
// strings and nils, every scalar kept as the text its author wrote. The
// format follows the name: .json is JSON, .yaml and .yml are YAML, and
// anything else (stdin among them) is JSON when it starts with '{' or '['
// and parses as JSON, else YAML. A JSON file's syntax errors name the line
// and column, as JSON, never as the YAML error the same bytes would give.
func parseDocFile(path string, data []byte) (any, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return parseJSONDoc(data)
	case ".yaml", ".yml":
		return parseYAMLDoc(data)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		v, jerr := parseJSONDoc(data)
		if jerr == nil {
			return v, nil
		}
		// A YAML flow mapping ({name: x}) starts the same way.
		if v, yerr := parseYAMLDoc(data); yerr == nil {
			return v, nil
		}
		return nil, jerr
	}
	return parseYAMLDoc(data)
}

func parseYAMLDoc(data []byte) (any, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(err)
	}
	if root.Kind == 0 {
		return nil, errors.New("empty document")
	}
	return nodeValue(&root, 0)
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError says that the error is a YAML one, and where, in the words the
// JSON errors use ("YAML syntax error at line 3: ...").
func yamlError(err error) error {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("YAML syntax error at line %s: %s", m[1], msg[len(m[0]):])
	}
	return fmt.Errorf("YAML syntax error: %s", strings.TrimPrefix(msg, "yaml: "))
}

// parseJSONDoc decodes JSON token by token into the shapes nodeValue
// gives a YAML document: numbers and booleans as the text written, a
// repeated key refused (encoding/json would silently keep the last one).
func parseJSONDoc(data []byte) (any, error) {
	p := &jsonDoc{data: data}
	// Syntax first, with Unmarshal's scanner: its offsets point at the
	// offending byte for every kind of error, which the token decoder's
	// do not.
	var probe any
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, p.fail(err)
	}
	p.dec = json.NewDecoder(bytes.NewReader(data))
	p.dec.UseNumber()
	return p.value(0)
}

type jsonDoc struct {
	data []byte
	dec  *json.Decoder
}

func (p *jsonDoc) value(depth int) (any, error) {
	if depth > maxDocDepth {
		return nil, p.errAt(p.dec.InputOffset(), "document nested too deeply")
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.fail(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			out := []any{}
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.fail(err)
			}
			return out, nil
		}
		out := map[string]any{}
		for p.dec.More() {
			start := p.dec.InputOffset()
			kt, err := p.dec.Token()
			if err != nil {
				return nil, p.fail(err)
			}
			k, _ := kt.(string)
			if _, dup := out[k]; dup {
				// start is where the previous value ended: the key is
				// past the comma and blanks.
				for start < int64(len(p.data)) && p.data[start] != '"' {
					start++
				}
				return nil, p.errAt(start, fmt.Sprintf("key %q already defined", k))
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		if _, err := p.dec.Token(); err != nil {
			return nil, p.fail(err)
		}
		return out, nil
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		if t {
			return "true", nil
		}
		return "false", nil
	case nil:
		return nil, nil
	}
	return nil, p.errAt(p.dec.InputOffset(), fmt.Sprintf("unexpected %s", describeToken(tok)))
}

// fail places a decoder error in the text: a syntax error at its offset,
// a truncated document at its end.
func (p *jsonDoc) fail(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.As(err, &se) && se.Offset >= int64(len(p.data)) && strings.HasPrefix(se.Error(), "unexpected end"):
		return p.errAt(int64(len(p.data)), "unexpected end of JSON input (a bracket, brace or quote is not closed)")
	case se != nil:
		// Unmarshal's Offset counts the bytes read, the offending one
		// included.
		return p.errAt(max(se.Offset-1, 0), se.Error())
	}
	return fmt.Errorf("JSON: %w", err)
}

// errAt is a JSON error at byte offset off: its line and column (in
// characters, from 1) and the line itself with a caret under the place.
func (p *jsonDoc) errAt(off int64, msg string) error {
	off = min(max(off, 0), int64(len(p.data)))
	before := p.data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	col := utf8.RuneCount(before[lineStart:]) + 1
	lineEnd := bytes.IndexByte(p.data[lineStart:], '\n')
	text := p.data[lineStart:]
	if lineEnd >= 0 {
		text = text[:lineEnd]
	}
	excerpt := strings.TrimRight(string(text), "\r")
	if !utf8.ValidString(excerpt) || utf8.RuneCountInString(excerpt) > 160 || strings.ContainsAny(excerpt, "\t") {
		return fmt.Errorf("JSON syntax error at line %d, column %d: %s", line, col, msg)
	}
	return fmt.Errorf("JSON syntax error at line %d, column %d: %s\n  %s\n  %s^", line, col, msg, excerpt, strings.Repeat(" ", col-1))
}

func describeToken(tok any) string {
	switch t := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("'%s'", t)
	case string:
		return fmt.Sprintf("string %q", t)
	}
	return fmt.Sprintf("%v", tok)
}
