package webhook

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
)

// PlainType is the CloudEvents type of events made from plain JSON bodies.
const PlainType = "ferry.http.v1"

// Media types of the CloudEvents HTTP binding.
const (
	structuredType = "application/cloudevents+json"
	batchType      = "application/cloudevents-batch+json"
)

// decodeRequest returns the events a request carries. A plain JSON body
// yields one event with an empty ID (plain reports it), which the caller
// derives from the event's position.
func decodeRequest(h http.Header, body []byte) (events []api.Event, plain bool, err error) {
	if h.Get("ce-specversion") != "" {
		ev, err := decodeBinary(h, body)
		if err != nil {
			return nil, false, err
		}
		return []api.Event{ev}, false, nil
	}
	mt := ""
	if ct := h.Get("Content-Type"); ct != "" {
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, false, fmt.Errorf("%w: Content-Type %q: %v", errMalformed, ct, err)
		}
	}
	switch {
	case mt == structuredType:
		ev, err := decodeStructured(body)
		if err != nil {
			return nil, false, err
		}
		return []api.Event{ev}, false, nil
	case mt == batchType:
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, false, fmt.Errorf("%w: batch must be a JSON array of events: %v", errMalformed, err)
		}
		events = make([]api.Event, len(raws))
		for i, raw := range raws {
			if events[i], err = decodeStructured(raw); err != nil {
				return nil, false, fmt.Errorf("event %d: %w", i, err)
			}
		}
		return events, false, nil
	case api.IsJSONContentType(mt):
		if !json.Valid(body) {
			return nil, false, fmt.Errorf("%w: body is not valid JSON", errMalformed)
		}
		return []api.Event{{
			SpecVersion:     api.SpecVersion,
			Type:            PlainType,
			DataContentType: "application/json",
			Data:            append([]byte(nil), body...),
		}}, true, nil
	default:
		return nil, false, fmt.Errorf("%w %q: send JSON, %s, %s or binary-mode CloudEvents", errUnsupportedType, mt, structuredType, batchType)
	}
}

func decodeStructured(b []byte) (api.Event, error) {
	var ev api.Event
	if err := ev.UnmarshalJSON(b); err != nil {
		return api.Event{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return ev, encodable(&ev)
}

// decodeBinary reads a binary-mode event: attributes from ce-* headers,
// data from the body.
func decodeBinary(h http.Header, body []byte) (api.Event, error) {
	var ev api.Event
	for key, vals := range h {
		lk := strings.ToLower(key)
		name, ok := strings.CutPrefix(lk, "ce-")
		if !ok || len(vals) == 0 {
			continue
		}
		v, err := url.PathUnescape(vals[0])
		if err != nil {
			return api.Event{}, fmt.Errorf("%w: header %s: %v", errMalformed, key, err)
		}
		switch name {
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
		case "time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return api.Event{}, fmt.Errorf("%w: ce-time: %v", errMalformed, err)
			}
			ev.Time = t
		default:
			if !validExtensionName(name) {
				return api.Event{}, fmt.Errorf("%w: header %s: extension names are lower-case letters and digits", errMalformed, key)
			}
			ev.SetExtension(name, v)
		}
	}
	switch {
	case ev.SpecVersion != api.SpecVersion:
		return api.Event{}, fmt.Errorf("%w: ce-specversion must be %q, got %q", errMalformed, api.SpecVersion, ev.SpecVersion)
	case ev.ID == "" || ev.Source == "" || ev.Type == "":
		return api.Event{}, fmt.Errorf("%w: ce-id, ce-source and ce-type are required", errMalformed)
	}
	ev.DataContentType = h.Get("Content-Type")
	if len(body) > 0 {
		ev.Data = append([]byte(nil), body...)
		// Without a Content-Type the data could be anything; calling it
		// JSON would make non-JSON bodies unencodable downstream.
		if ev.DataContentType == "" && !json.Valid(body) {
			ev.DataContentType = "application/octet-stream"
		}
	}
	return ev, encodable(&ev)
}

// encodable rejects an event a sink could not write in structured mode,
// such as JSON-typed data that is not JSON, while the client can still
// be told.
func encodable(ev *api.Event) error {
	if _, err := ev.AppendJSON(nil); err != nil {
		return fmt.Errorf("%w: %v", errMalformed, err)
	}
	return nil
}

// validExtensionName applies the CloudEvents naming rule for attributes.
func validExtensionName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
