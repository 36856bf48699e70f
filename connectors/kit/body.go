package kit

import (
	"fmt"

	"github.com/ferryhq/ferry/api"
)

// Body is how a sink writes an event as a message: the sink option body.
type Body uint8

// Bodies.
const (
	// BodyStructured writes the event as structured-mode JSON, with the
	// structured content type.
	BodyStructured Body = iota
	// BodyBinary writes the event's data as the body and every attribute
	// and extension as a header (binary mode).
	BodyBinary
	// BodyData writes the event's data alone: no attribute headers.
	BodyData
)

var bodyNames = [...]string{BodyStructured: "structured", BodyBinary: "binary", BodyData: "data"}

func (b Body) String() string {
	if int(b) < len(bodyNames) {
		return bodyNames[b]
	}
	return fmt.Sprintf("Body(%d)", uint8(b))
}

// BodyField is the sink option body, declared once for every sink that
// writes events as messages (sink.body). A sink puts it in its spec and
// reads it with BodyOf.
var BodyField = api.Field{
	Name: "body", Type: api.TypeString, Default: "structured", Enum: bodyNames[:],
	Description: "structured: the CloudEvent as JSON (content type application/cloudevents+json); " +
		"binary: the event's data as the body, every attribute and extension as a header (the CloudEvents binding's binary mode); " +
		"data: the event's data alone, no attributes.",
}

// BodyOf returns the body a validated config chose (structured when
// unset).
func BodyOf(c api.Config) Body {
	for b, name := range bodyNames {
		if c.String(BodyField.Name) == name {
			return Body(b)
		}
	}
	return BodyStructured
}

// Encode returns the message body for ev under body and calls set with
// the headers that go with it: in structured mode the content type
// header; in binary mode the attribute headers (EncodeHeaders); in data
// mode none. The structured body is appended to buf; the others are
// ev.Data itself. The error is one that resending cannot fix (data that
// does not fit its content type, an extension value of no CloudEvents
// type).
func (b Binding) Encode(body Body, ev *api.Event, buf []byte, set func(name, value string)) ([]byte, error) {
	switch body {
	case BodyBinary:
		if err := b.EncodeHeaders(ev, set); err != nil {
			return nil, err
		}
		return ev.Data, nil
	case BodyData:
		return ev.Data, nil
	}
	out, err := ev.AppendJSON(buf)
	if err != nil {
		return nil, err
	}
	set(b.contentType, StructuredContentType)
	return out, nil
}
