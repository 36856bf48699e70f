package main

import (
	"strings"
	"testing"
)

// TestJSONErrorPlace: every kind of JSON mistake is reported as JSON, at
// the line and column of the offending character.
func TestJSONErrorPlace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"trailing comma", "{\n  \"a\": \"1\",\n}", "line 3, column 1: invalid character '}' looking for beginning of object key string"},
		{"missing colon", `{"a" 1}`, "line 1, column 6: invalid character '1' after object key"},
		{"bad literal", `{"a": tru}`, "line 1, column 10: invalid character '}' in literal true"},
		{"missing comma", "{\"a\": \"1\"\n \"b\": \"2\"}", "line 2, column 2: invalid character '\"' after object key:value pair"},
		{"control character", "{\"a\": \"x\x01\"}", `line 1, column 9: invalid character '\x01' in string literal`},
		{"bad escape", `{"a": "\q"}`, "line 1, column 9: invalid character 'q' in string escape code"},
		{"unquoted key", `{a: 1, "b": }`, "line 1, column 2: invalid character 'a'"},
		{"two documents", `{"a":"1"} {"b":"2"}`, "line 1, column 11: invalid character '{' after top-level value"},
		{"truncated", "{\"a\": [\n", "line 2, column 1: unexpected end of JSON input"},
		{"column in characters", "{\"é\": \"ü\",}", "line 1, column 11: invalid character '}'"},
		{"duplicate key", "{\"a\": \"1\",\n  \"a\": \"2\"}", `line 2, column 3: key "a" already defined`},
		{"too deep", strings.Repeat("[", 70) + strings.Repeat("]", 70), "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseDocFile("c.json", []byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant one containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "JSON") || strings.Contains(err.Error(), "yaml") {
				t.Errorf("not reported as a JSON error: %v", err)
			}
		})
	}
}

// TestJSONErrorCaret: the error shows the line and a caret under the
// offending character.
func TestJSONErrorCaret(t *testing.T) {
	t.Parallel()
	_, err := parseDocFile("c.json", []byte("{\n  \"name\": \"x\",\n  \"config\": {\"k\": \"v\",}\n}"))
	want := "JSON syntax error at line 3, column 23: invalid character '}' looking for beginning of object key string\n" +
		"    \"config\": {\"k\": \"v\",}\n" +
		"  " + strings.Repeat(" ", 22) + "^"
	if err == nil || err.Error() != want {
		t.Fatalf("err =\n%v\nwant\n%s", err, want)
	}
}

// TestDocFormatByName: the file's extension decides the format; without
// one, a document that looks like JSON is JSON unless it is YAML flow
// style.
func TestDocFormatByName(t *testing.T) {
	t.Parallel()
	if _, err := parseDocFile("c.yaml", []byte("{name: a, config: {}}")); err != nil {
		t.Errorf(".yaml flow mapping: %v", err)
	}
	if _, err := parseDocFile("c.json", []byte("{name: a, config: {}}")); err == nil || !strings.HasPrefix(err.Error(), "JSON") {
		t.Errorf(".json holding YAML: err = %v, want a JSON error", err)
	}
	if _, err := parseDocFile("c.yml", []byte("a: [1,\n")); err == nil || !strings.HasPrefix(err.Error(), "YAML syntax error at line") {
		t.Errorf(".yml syntax error: err = %v", err)
	}
}
