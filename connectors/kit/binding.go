package kit

import (
	"encoding/base64"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
)

// StructuredContentType is the content type of a structured-mode message
// Ferry writes: the CloudEvent as JSON.
const StructuredContentType = "application/cloudevents+json; charset=UTF-8"

// Binding is one protocol binding of CloudEvents: how a message system's
// headers (Kafka headers, HTTP headers, RocketMQ user properties) carry an
// event's attributes in binary mode, and which header holds the content
// type. The zero value is not usable; use Kafka, HTTP or RocketMQ.
type Binding struct {
	prefix      string // of every attribute header but the content type
	contentType string // the header that carries datacontenttype
	foldCase    bool   // header names are case-insensitive (HTTP)
	percent     bool   // header values are percent-encoded (HTTP)
}

var (
	// Kafka is the CloudEvents Kafka protocol binding: attributes in
	// ce_<name> headers, datacontenttype in content-type.
	Kafka = Binding{prefix: "ce_", contentType: "content-type"}
	// HTTP is the CloudEvents HTTP protocol binding: attributes in
	// ce-<name> headers (names case-insensitive, values percent-encoded),
	// datacontenttype in Content-Type.
	HTTP = Binding{prefix: "ce-", contentType: "Content-Type", foldCase: true, percent: true}
	// RocketMQ is the CloudEvents RocketMQ binding (as the CloudEvents
	// Java SDK's rocketmq module writes it): attributes in CE_<name> user
	// properties, datacontenttype in CE_contenttype.
	RocketMQ = Binding{prefix: "CE_", contentType: "CE_contenttype"}
)

// Prefix is the prefix of the binding's attribute headers.
func (b Binding) Prefix() string { return b.prefix }

// ContentTypeHeader is the header that carries the content type (and
// datacontenttype in binary mode).
func (b Binding) ContentTypeHeader() string { return b.contentType }

// Mode is how a received message carries its event.
type Mode uint8

// Modes.
const (
	// ModePlain: the message is not a CloudEvent; its body is the data.
	ModePlain Mode = iota
	// ModeBinary: attributes in headers, the body is the data.
	ModeBinary
	// ModeStructured: the body is the whole event in a CloudEvents format.
	ModeStructured
	// ModeBatch: the body is a batch of structured events (HTTP only).
	ModeBatch
)

func (m Mode) String() string {
	switch m {
	case ModeBinary:
		return "binary"
	case ModeStructured:
		return "structured"
	case ModeBatch:
		return "batch"
	}
	return "plain"
}

// DetectMode applies the bindings' rule: a content type starting with
// application/cloudevents (any case) is structured mode (batch for
// application/cloudevents-batch), else a specversion attribute header
// means binary mode, else the message is plain data.
func DetectMode(contentType string, hasSpecVersion bool) Mode {
	if contentType == jsonFormat {
		return ModeStructured // the common case, without folding case
	}
	const ce = "application/cloudevents"
	if len(contentType) >= len(ce) && strings.EqualFold(contentType[:len(ce)], ce) {
		if rest := contentType[len(ce):]; len(rest) >= 6 && strings.EqualFold(rest[:6], "-batch") {
			return ModeBatch
		}
		return ModeStructured
	}
	if hasSpecVersion {
		return ModeBinary
	}
	return ModePlain
}

// Decode returns the event a received message carries, with the mode it
// came in. headers yields the message's headers (for HTTP, each name's
// first value); body is the message's payload.
//
// Structured mode decodes the body with api.Event.UnmarshalJSON (which
// copies what it keeps). Binary mode takes the attributes from the
// headers and the body as data. Plain mode returns an event with only
// specversion, datacontenttype and data set (the caller fills id, source
// and type): the content type as given, or without one
// application/json for a JSON body and application/octet-stream for any
// other. In binary and plain mode Data is body itself, not a copy; an
// empty body is no data. ModeBatch returns no event: the caller decodes
// the batch (HTTP's application/cloudevents-batch+json).
func (b Binding) Decode(headers iter.Seq2[string, string], body []byte) (api.Event, Mode, error) {
	ct, hasSpec := "", false
	for name, value := range headers {
		switch {
		case b.IsContentType(name):
			ct = value
		case b.IsSpecVersion(name):
			hasSpec = true
		}
	}
	mode := DetectMode(ct, hasSpec)
	ev, err := b.DecodeMode(mode, ct, headers, body)
	return ev, mode, err
}

// DecodeMode is Decode for a caller that has found the content type (ct)
// and the mode itself — DetectMode over the headers IsContentType and
// IsSpecVersion pick out — as a source whose client library hands it a
// slice of headers does with a plain loop: ranging over an iterator
// costs Decode a few allocations per message, which a source reading a
// few hundred thousand messages a second feels. headers is read only in
// binary mode.
func (b Binding) DecodeMode(mode Mode, ct string, headers iter.Seq2[string, string], body []byte) (api.Event, error) {
	var ev api.Event
	var err error
	switch mode {
	case ModeStructured:
		if !isJSONFormat(ct) {
			return api.Event{}, fmt.Errorf("%w %q: only application/cloudevents+json is read", ErrUnsupportedFormat, ct)
		}
		err = ev.UnmarshalJSON(body)
	case ModeBinary:
		ev, err = b.decodeBinary(headers, ct, body)
	case ModePlain:
		ev, err = plain(ct, body)
	}
	if err != nil {
		return api.Event{}, err
	}
	return ev, nil
}

// isJSONFormat reports whether a structured-mode content type names the
// JSON event format.
func isJSONFormat(ct string) bool {
	if ct == jsonFormat {
		return true
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(strings.TrimSpace(ct), jsonFormat)
}

// jsonFormat is the content type of the JSON event format, as most
// messages spell it.
const jsonFormat = "application/cloudevents+json"

// IsContentType reports whether header name is the binding's content
// type header.
func (b Binding) IsContentType(name string) bool {
	if b.foldCase {
		return strings.EqualFold(name, b.contentType)
	}
	return name == b.contentType
}

// attribute returns the attribute name a header carries.
func (b Binding) attribute(name string) (string, bool) {
	if len(name) <= len(b.prefix) {
		return "", false
	}
	if b.foldCase {
		if !strings.EqualFold(name[:len(b.prefix)], b.prefix) {
			return "", false
		}
		return strings.ToLower(name[len(b.prefix):]), true
	}
	return strings.CutPrefix(name, b.prefix)
}

// IsSpecVersion reports whether header name carries the specversion
// attribute, whose presence makes a message binary mode.
func (b Binding) IsSpecVersion(name string) bool { return b.is(name, "specversion") }

// is reports whether header name carries attribute attr.
func (b Binding) is(name, attr string) bool {
	if len(name) != len(b.prefix)+len(attr) {
		return false
	}
	if b.foldCase {
		return strings.EqualFold(name[:len(b.prefix)], b.prefix) && strings.EqualFold(name[len(b.prefix):], attr)
	}
	return name[:len(b.prefix)] == b.prefix && name[len(b.prefix):] == attr
}

func (b Binding) decodeBinary(headers iter.Seq2[string, string], ct string, body []byte) (api.Event, error) {
	ev := api.Event{DataContentType: ct}
	for name, v := range headers {
		if b.IsContentType(name) {
			continue
		}
		attr, ok := b.attribute(name)
		if !ok {
			continue
		}
		if b.percent {
			var err error
			if v, err = url.PathUnescape(v); err != nil {
				return api.Event{}, fmt.Errorf("%w: header %s: %v", ErrBinary, name, err)
			}
		}
		switch attr {
		case "specversion":
			ev.SpecVersion = v
		case "id":
			ev.ID = v
		case "source":
			ev.Source = v
		case "type":
			ev.Type = v
		case "subject":
			ev.Subject = v
		case "dataschema":
			ev.DataSchema = v
		case "datacontenttype":
			// Belongs in the content type header; taken from here only
			// when that is absent.
			if ct == "" {
				ev.DataContentType = v
			}
		case "time":
			t, err := api.ParseTime(v)
			if err != nil {
				return api.Event{}, fmt.Errorf("%w: header %s: %v", ErrBinary, name, err)
			}
			ev.Time = t
		default:
			if !api.ValidAttributeName(attr) {
				return api.Event{}, fmt.Errorf("%w: header %s: attribute names are lower-case letters and digits", ErrBinary, name)
			}
			ev.SetExtension(attr, v)
		}
	}
	switch {
	case ev.SpecVersion != api.SpecVersion:
		return api.Event{}, fmt.Errorf("%w: %sspecversion must be %q, got %q", ErrBinary, b.prefix, api.SpecVersion, ev.SpecVersion)
	case ev.ID == "" || ev.Source == "" || ev.Type == "":
		return api.Event{}, fmt.Errorf("%w: %sid, %[2]ssource and %[2]stype are required", ErrBinary, b.prefix)
	}
	if len(body) > 0 {
		ev.Data = body
		switch {
		case ev.DataContentType == "" && !api.ValidJSON(body):
			// Without a content type the data could be anything; calling
			// it JSON would make a non-JSON body unencodable downstream.
			ev.DataContentType = "application/octet-stream"
		case ev.DataContentType != "" && api.IsJSONContentType(ev.DataContentType) && !api.ValidJSON(body):
			return api.Event{}, fmt.Errorf("%w: data is not valid JSON for content type %q", ErrBinary, ev.DataContentType)
		}
	}
	return ev, nil
}

// plain makes the event of a message that is not a CloudEvent.
func plain(ct string, body []byte) (api.Event, error) {
	ev := api.Event{SpecVersion: api.SpecVersion, DataContentType: ct}
	if len(body) == 0 {
		return ev, nil
	}
	ev.Data = body
	switch {
	case ct == "" && api.ValidJSON(body):
		ev.DataContentType = "application/json"
	case ct == "":
		ev.DataContentType = "application/octet-stream"
	case api.IsJSONContentType(ct) && !api.ValidJSON(body):
		return api.Event{}, fmt.Errorf("%w %q", ErrPlainData, ct)
	}
	return ev, nil
}

// EncodeHeaders calls set with each binary-mode header of ev: the content
// type header for datacontenttype, and prefix+name for specversion (1.0
// when empty), every other attribute that is set and every extension.
// Extension values are written as the CloudEvents type system's string
// form; HTTP values are percent-encoded as its binding requires.
func (b Binding) EncodeHeaders(ev *api.Event, set func(name, value string)) error {
	put := func(name, v string) {
		if v == "" {
			return
		}
		if b.percent {
			v = percentEncode(v)
		}
		set(b.prefix+name, v)
	}
	spec := ev.SpecVersion
	if spec == "" {
		spec = api.SpecVersion
	}
	put("specversion", spec)
	put("id", ev.ID)
	put("source", ev.Source)
	put("type", ev.Type)
	put("subject", ev.Subject)
	if !ev.Time.IsZero() {
		put("time", ev.Time.UTC().Format(time.RFC3339Nano))
	}
	put("dataschema", ev.DataSchema)
	if ev.DataContentType != "" {
		set(b.contentType, ev.DataContentType)
	}
	var exts [4]api.Extension
	for _, x := range ev.SortedExtensions(exts[:0]) {
		k, v := x.Name, x.Value
		if !api.ValidAttributeName(k) {
			return fmt.Errorf("cloudevent: invalid extension attribute name %q", k)
		}
		s, err := ExtensionText(v)
		if err != nil {
			return fmt.Errorf("cloudevent: extension %q: %w", k, err)
		}
		put(k, s)
	}
	return nil
}

// ExtensionText is an extension value's canonical string form (the
// CloudEvents type system's string encoding), as binary mode carries it.
func ExtensionText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case []byte:
		return base64.StdEncoding.EncodeToString(x), nil
	default:
		return "", fmt.Errorf("unsupported value type %T", v)
	}
}

// percentEncode encodes what the HTTP binding says a header value must
// not carry raw: bytes outside printable ASCII, space, '"' and '%'.
func percentEncode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsPercent(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		if c := s[i]; needsPercent(c) {
			out = append(out, '%', hex[c>>4], hex[c&0xf])
		} else {
			out = append(out, c)
		}
	}
	return string(out)
}

func needsPercent(c byte) bool { return c <= ' ' || c >= 0x7f || c == '"' || c == '%' }
