package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// referenceUnmarshal is the decoder UnmarshalJSON replaced, kept as the
// fuzz oracle and the benchmark baseline: encoding/json decodes the object
// into a map of raw messages, then each attribute again. It is unchanged
// but for the json.Valid check up front (json.Decoder accepted trailing
// bytes after the object, which the one-pass decoder refuses) and for
// the time attribute, parsed with ParseTime as the one-pass decoder does.
func referenceUnmarshal(e *Event, b []byte) error {
	if !json.Valid(b) {
		return fmt.Errorf("cloudevent: invalid JSON")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("cloudevent: %w", err)
	}
	if raw == nil {
		return fmt.Errorf("cloudevent: not a JSON object")
	}
	*e = Event{}
	str := func(name string, dst *string) error {
		v, ok := raw[name]
		if !ok {
			return nil
		}
		delete(raw, name)
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("cloudevent: attribute %q must be a string", name)
		}
		return nil
	}
	for name, dst := range map[string]*string{
		"id": &e.ID, "source": &e.Source, "specversion": &e.SpecVersion, "type": &e.Type,
		"subject": &e.Subject, "datacontenttype": &e.DataContentType, "dataschema": &e.DataSchema,
	} {
		if err := str(name, dst); err != nil {
			return err
		}
	}
	switch {
	case e.SpecVersion != SpecVersion:
		return fmt.Errorf("cloudevent: specversion must be %q, got %q", SpecVersion, e.SpecVersion)
	case e.ID == "":
		return fmt.Errorf("cloudevent: required attribute \"id\" is missing or empty")
	case e.Source == "":
		return fmt.Errorf("cloudevent: required attribute \"source\" is missing or empty")
	case e.Type == "":
		return fmt.Errorf("cloudevent: required attribute \"type\" is missing or empty")
	}
	if v, ok := raw["time"]; ok {
		delete(raw, "time")
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("cloudevent: attribute \"time\" must be a string")
		}
		t, err := ParseTime(s)
		if err != nil {
			return fmt.Errorf("cloudevent: attribute \"time\": %w", err)
		}
		e.Time = t
	}
	data, hasData := raw["data"]
	b64, hasB64 := raw["data_base64"]
	delete(raw, "data")
	delete(raw, "data_base64")
	switch {
	case hasData && hasB64:
		return fmt.Errorf("cloudevent: both \"data\" and \"data_base64\" are present")
	case hasB64:
		var s string
		if err := json.Unmarshal(b64, &s); err != nil {
			return fmt.Errorf("cloudevent: \"data_base64\" must be a string")
		}
		d, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("cloudevent: \"data_base64\": %w", err)
		}
		e.Data = d
	case hasData:
		if !IsJSONContentType(e.DataContentType) && len(data) > 0 && data[0] == '"' {
			var s string
			if err := json.Unmarshal(data, &s); err != nil {
				return fmt.Errorf("cloudevent: \"data\": %w", err)
			}
			e.Data = []byte(s)
		} else {
			e.Data = append([]byte(nil), data...)
		}
	}
	for name, v := range raw {
		if !ValidAttributeName(name) {
			return fmt.Errorf("cloudevent: invalid extension attribute name %q", name)
		}
		var x any
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if err := d.Decode(&x); err != nil {
			return fmt.Errorf("cloudevent: extension %q: %w", name, err)
		}
		switch t := x.(type) {
		case string, bool:
			e.SetExtension(name, t)
		case json.Number:
			if i, err := t.Int64(); err == nil {
				e.SetExtension(name, i)
			} else if f, err := t.Float64(); err == nil {
				e.SetExtension(name, f)
			}
		case nil:
			// A null extension is the same as an absent one.
		default:
			return fmt.Errorf("cloudevent: extension %q must be a string, number or boolean", name)
		}
	}
	return nil
}
