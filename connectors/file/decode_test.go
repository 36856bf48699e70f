package file

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestDecodeLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		line     string
		wantKeep bool
		wantErr  error // nil: no error; errAny: some error
		wantID   string
		wantType string
	}{
		{"blank", "   \r", false, nil, "", ""},
		{"plain object", `{"a":1}`, true, nil, "/f.jsonl:42", PlainType},
		{"plain with crlf", "{\"a\":1}\r", true, nil, "/f.jsonl:42", PlainType},
		{"cloudevent", `{"specversion":"1.0","id":"x","source":"/s","type":"t","data":{"k":2}}`, true, nil, "x", "t"},
		{"nested specversion is plain", `{"meta":{"specversion":"1.0"}}`, true, nil, "/f.jsonl:42", PlainType},
		{"nested specversion, plain keys", `{"Meta":{"specversion":"1.0"},"ID":5}`, true, nil, "/f.jsonl:42", PlainType},
		{"cloudevent with extension", `{"specversion":"1.0","id":"x","source":"/s","type":"t","tenant":"a"}`, true, nil, "x", "t"},
		{"truncated cloudevent", `{"specversion":"1.0","id":"x"`, false, errInvalidJSON, "", ""},
		{"cloudevent bad extension name", `{"specversion":"1.0","id":"x","source":"/s","type":"t","Tenant":"a"}`, false, errAny, "", ""},
		{"cloudevent missing id", `{"specversion":"1.0","source":"/s","type":"t"}`, false, errAny, "", ""},
		{"cloudevent bad json data", `{"specversion":"1.0","id":"x","source":"/s","type":"t","datacontenttype":"application/json","data_base64":"eyJh"}`, false, errAny, "", ""},
		{"array", `[1,2]`, false, errNotObject, "", ""},
		{"number", `12`, false, errNotObject, "", ""},
		{"garbage", `{"a":`, false, errInvalidJSON, "", ""},
		{"not json", `hello`, false, errInvalidJSON, "", ""},
		{"two objects", `{"a":1}{"b":2}`, false, errInvalidJSON, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, keep, err := decodeLine("/f.jsonl", 42, []byte(tt.line))
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.wantErr == errAny && err == nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if keep != tt.wantKeep {
				t.Fatalf("keep %v, want %v", keep, tt.wantKeep)
			}
			if keep && (ev.ID != tt.wantID || ev.Type != tt.wantType) {
				t.Fatalf("event id %q type %q, want %q %q", ev.ID, ev.Type, tt.wantID, tt.wantType)
			}
		})
	}
}

var errAny = errors.New("any error")

// FuzzDecodeLine checks that no line panics the decoder and that every
// accepted line yields an event a sink can encode.
func FuzzDecodeLine(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, ``, `   `, `[1]`, `{"specversion":"1.0","id":"x","source":"/s","type":"t","data":{"k":2}}`,
		`{"specversion":"1.0","id":"x","source":"/s","type":"t","datacontenttype":"text/plain","data":"hi"}`,
		`{"specversion":"1.0","id":"x","source":"/s","type":"t","data_base64":"AAE="}`,
		`{"specversion":2}`, `{"x":"\u2028"}`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, keep, err := decodeLine("/f", 0, line)
		if err != nil {
			if keep {
				t.Fatalf("keep with error %v", err)
			}
			return
		}
		if !keep {
			return
		}
		out, err := ev.AppendJSON(nil)
		if err != nil {
			t.Fatalf("accepted line %q does not encode: %v", line, err)
		}
		if !json.Valid(out) {
			t.Fatalf("accepted line %q encodes to invalid JSON %q", line, out)
		}
	})
}
