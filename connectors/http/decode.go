package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"mime"
	nethttp "net/http"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// PlainType is the CloudEvents type of events made from plain JSON bodies.
const PlainType = "ferry.http.v1"

// Media types of the CloudEvents HTTP binding.
const (
	structuredType = "application/cloudevents+json"
	batchType      = "application/cloudevents-batch+json"
)

// decodeRequest returns the events a request carries, through the
// CloudEvents HTTP binding (package kit): structured mode when the
// Content-Type starts with application/cloudevents, else binary mode when
// a ce-specversion header is present, else a plain JSON body. A plain
// body yields one event with an empty ID (plain reports it), which the
// caller derives from the event's position.
func decodeRequest(h nethttp.Header, body []byte) (events []api.Event, plain bool, err error) {
	ev, mode, err := kit.HTTP.Decode(headerValues(h), body)
	switch mode {
	case kit.ModeStructured:
		if errors.Is(err, kit.ErrUnsupportedFormat) {
			return nil, false, fmt.Errorf("%w: %v", errUnsupportedType, err)
		}
	case kit.ModeBatch:
		return decodeBatch(h.Get("Content-Type"), body)
	case kit.ModePlain:
		mt := ""
		if ct := h.Get("Content-Type"); ct != "" {
			var perr error
			if mt, _, perr = mime.ParseMediaType(ct); perr != nil {
				return nil, false, fmt.Errorf("%w: Content-Type %q: %v", errMalformed, ct, perr)
			}
		}
		if !api.IsJSONContentType(mt) {
			return nil, false, fmt.Errorf("%w %q: send JSON, %s, %s or binary-mode CloudEvents", errUnsupportedType, mt, structuredType, batchType)
		}
		switch {
		case err != nil:
		case len(body) == 0:
			err = fmt.Errorf("body is empty")
		case !api.IsJSONContentType(ev.DataContentType):
			// No Content-Type, and the binding found the body is not JSON.
			err = fmt.Errorf("body is not valid JSON")
		}
		ev.Type = PlainType
		plain = true
	}
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return []api.Event{ev}, plain, nil
}

// decodeBatch reads application/cloudevents-batch+json: a JSON array of
// structured-mode events.
func decodeBatch(ct string, body []byte) ([]api.Event, bool, error) {
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != batchType {
		return nil, false, fmt.Errorf("%w %q: the batch format is %s", errUnsupportedType, ct, batchType)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, false, fmt.Errorf("%w: batch must be a JSON array of events: %v", errMalformed, err)
	}
	events := make([]api.Event, len(raws))
	for i, raw := range raws {
		if err := events[i].UnmarshalJSON(raw); err != nil {
			return nil, false, fmt.Errorf("event %d: %w: %v", i, errMalformed, err)
		}
	}
	return events, false, nil
}

// headerValues yields each header's first value, as the binding reads
// them.
func headerValues(h nethttp.Header) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for k, vs := range h {
			if len(vs) > 0 && !yield(k, vs[0]) {
				return
			}
		}
	}
}
