package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/worker"
)

// messageBody is Kafka Connect's Message entity (offsets alter/reset).
type messageBody struct {
	Message string `json:"message"`
}

// writeJSON encodes v with encoding/json, whose sorted map keys keep
// responses stable.
func writeJSON(c *gin.Context, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every response type is plain data; this is a programming error.
		panic(fmt.Sprintf("worker: encoding %T: %v", v, err))
	}
	c.Data(status, "application/json", b)
}

func writeErrorStatus(c *gin.Context, status int, msg string) {
	writeJSON(c, status, worker.ErrorBody{ErrorCode: status, Message: msg})
	c.Abort()
}

// statusOf maps a Controller error to its HTTP status (see Controller).
func statusOf(err error) int {
	var ve *api.ValidationError
	var mbe *http.MaxBytesError
	var lr *worker.LeaderRefusedError
	switch {
	case errors.As(err, &lr):
		return lr.Status
	case errors.As(err, &ve), errors.Is(err, worker.ErrNotStopped), errors.Is(err, worker.ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, worker.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, worker.ErrExists), errors.Is(err, worker.ErrRebalancing):
		return http.StatusConflict
	case errors.Is(err, worker.ErrNoLeader):
		return http.StatusServiceUnavailable
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusInternalServerError
	}
}

// writeError answers with err mapped to Kafka Connect's error shape. Server
// faults are logged (without the request body); client faults are not,
// they are the client's to read.
func (s *Server) writeError(c *gin.Context, err error) {
	status := statusOf(err)
	body := worker.ErrorBody{ErrorCode: status, Message: err.Error()}
	var ve *api.ValidationError
	if errors.As(err, &ve) {
		body.Message = validationMessage(ve)
		body.Fields = make([]worker.FieldErrorBody, len(ve.Fields))
		for i, f := range ve.Fields {
			body.Fields[i] = worker.FieldErrorBody{Field: f.Field, Message: f.Message}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		body.Message = "Request timed out: " + err.Error()
	}
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", retryAfter)
	}
	if status >= 500 {
		s.log.Error("REST request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	}
	writeJSON(c, status, body)
	c.Abort()
}

// retryAfter is the Retry-After header (seconds) of a 503 (ErrNoLeader):
// about the time gossip takes to declare a dead leader dead.
const retryAfter = "2"

// validationMessage words a validation failure as Kafka Connect does, so
// scripts that grep for it keep working.
func validationMessage(ve *api.ValidationError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Connector configuration is invalid and contains the following %d error(s):", len(ve.Fields))
	for _, f := range ve.Fields {
		b.WriteString("\n")
		b.WriteString(f.Error())
	}
	b.WriteString("\nYou can also find the above list of errors at the endpoint `/connector-plugins/{pluginName}/config/validate`")
	return b.String()
}

// badRequest and notFound are mistakes the REST layer finds itself.
func badRequest(format string, args ...any) error {
	return &worker.KindError{Kind: worker.ErrBadRequest, Msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &worker.KindError{Kind: worker.ErrNotFound, Msg: fmt.Sprintf(format, args...)}
}

// readBody reads the whole (size-limited) body and decodes it into v,
// strictly: one JSON value, no unknown fields. Errors are ErrBadRequest
// naming the problem and where it is, or a *http.MaxBytesError.
func readBody(c *gin.Context, v any) error {
	data, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("request body exceeds %d bytes: %w", mbe.Limit, err)
		}
		return badRequest("reading request body: %v", err)
	}
	return decodeJSON(data, v)
}

// readConfig reads a body that is a flat config map.
func readConfig(c *gin.Context) (map[string]string, error) {
	var cv configValues
	if err := readBody(c, &cv); err != nil {
		return nil, err
	}
	return cv.strings("config")
}

func decodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("request body is empty; a JSON document is required")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(data, err)
	}
	// Decoder.More is false before a stray '}' or ']': look at the bytes.
	rest := data[dec.InputOffset():]
	if trimmed := bytes.TrimLeft(rest, " \t\r\n"); len(trimmed) > 0 {
		off := int64(len(data) - len(trimmed))
		return badRequest("malformed JSON at %s: unexpected data after the JSON document", position(data, off))
	}
	return nil
}

// jsonError turns a decoding error into a message naming what is wrong and
// where (line:column), never echoing values, which may be secrets.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var fe *fieldTypeError
	switch {
	case errors.Is(err, worker.ErrBadRequest):
		return err
	case errors.As(err, &fe):
		return badRequest("%s", fe.Error())
	case errors.As(err, &se):
		return badRequest("malformed JSON at %s: %s", position(data, se.Offset), strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the request body"
		} else {
			field = fmt.Sprintf("%q", field)
		}
		return badRequest("wrong JSON type for %s at %s: expected %s, got %s", field, position(data, te.Offset), jsonTypeName(te.Type.String()), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON at %s: unexpected end of input", position(data, int64(len(data))))
	default:
		// Unknown fields ("json: unknown field \"x\"") and the like.
		return badRequest("invalid JSON request: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "worker."), strings.HasPrefix(goType, "struct"):
		return "object"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	case goType == "string":
		return "string"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "number"
	case goType == "bool":
		return "boolean"
	default:
		return goType
	}
}

// position renders a byte offset as "line L, column C (byte N)".
func position(data []byte, off int64) string {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("line %d, column %d (byte %d)", line, col, off)
}

// fieldTypeError is a config value of a type Ferry cannot take as a
// string. It names the key, never the value.
type fieldTypeError struct {
	where string // "config", "offsets[0].partition", …
	key   string
	got   string
}

func (e *fieldTypeError) Error() string {
	return fmt.Sprintf("%s key %q must have a string, number or boolean value, got %s", e.where, e.key, e.got)
}

// configValues is a JSON object of config values. Kafka Connect requires
// strings; Ferry also takes numbers and booleans and keeps their JSON text
// ("tasks.max": 3 → "3"), because YAML and JSON authors write them so.
// Objects and arrays are rejected naming the key. Null is kept as a nil
// pointer: PATCH uses it to delete a key; elsewhere it is rejected.
type configValues map[string]*string

// UnmarshalJSON implements json.Unmarshaler.
func (cv *configValues) UnmarshalJSON(data []byte) error {
	m, err := decodeScalars(data, "config")
	*cv = m
	return err
}

// offsetValues is a partition or offset object of an offsets request,
// with the same scalar rules as configValues (Kafka Connect's own offsets
// hold numbers, such as "kafka_offset": 1000).
type offsetValues map[string]*string

// UnmarshalJSON implements json.Unmarshaler.
func (ov *offsetValues) UnmarshalJSON(data []byte) error {
	m, err := decodeScalars(data, "offsets partition or offset")
	*ov = m
	return err
}

func decodeScalars(data []byte, where string) (map[string]*string, error) {
	raw, err := rawObject(data, where)
	if err != nil || raw == nil {
		return nil, err
	}
	out := make(map[string]*string, len(raw))
	for _, k := range sortedKeys(raw) { // sorted: the first bad key reported is stable
		s, err := scalarString(raw[k])
		if err != nil {
			return nil, &fieldTypeError{where: where, key: k, got: err.Error()}
		}
		out[k] = s
	}
	return out, nil
}

// rawObject decodes a JSON object (or null) into raw values; where names
// the object in the error ("config", "offsets").
func rawObject(data []byte, where string) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, badRequest("%s must be a JSON object, got %s", where, te.Value)
		}
		return nil, err
	}
	return raw, nil
}

// scalarString converts one JSON value to its config string; nil for null.
// The error text names the JSON type that was refused.
func scalarString(v json.RawMessage) (*string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, errors.New("nothing")
	}
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, errors.New("an invalid string")
		}
		return &s, nil
	case '{':
		return nil, errors.New("an object")
	case '[':
		return nil, errors.New("an array")
	case 'n':
		return nil, nil
	default: // number, true, false: keep the literal text
		s := string(v)
		return &s, nil
	}
}

// strings returns the values as a plain map, refusing nulls.
func (cv configValues) strings(where string) (map[string]string, error) {
	return nonNull(cv, where)
}

func nonNull(m map[string]*string, where string) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		if m[k] == nil {
			return nil, badRequest("%s key %q must have a string, number or boolean value, got null", where, k)
		}
		out[k] = *m[k]
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
