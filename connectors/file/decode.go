package file

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ferryhq/ferry/api"
)

// PlainType is the CloudEvents type of events made from plain JSON lines.
const PlainType = "ferry.file.v1"

// decodeLine turns one line (without its newline) that starts at byte
// offset off of the file at path into an event. Blank lines return
// ok=false and no error.
func decodeLine(path string, off int64, line []byte) (ev api.Event, ok bool, err error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return api.Event{}, false, nil
	}
	if line[0] != '{' {
		if json.Valid(line) {
			return api.Event{}, false, errNotObject
		}
		return api.Event{}, false, errInvalidJSON
	}
	if isCloudEvent(line) {
		if err := ev.UnmarshalJSON(line); err != nil {
			return api.Event{}, false, err
		}
		// Reject now what a sink could not encode later, so the bad line
		// is reported with its offset.
		if _, err := ev.AppendJSON(nil); err != nil {
			return api.Event{}, false, err
		}
		return ev, true, nil
	}
	if !json.Valid(line) {
		return api.Event{}, false, errInvalidJSON
	}
	return api.Event{
		ID:              path + ":" + strconv.FormatInt(off, 10),
		Source:          "file://" + path,
		SpecVersion:     api.SpecVersion,
		Type:            PlainType,
		DataContentType: "application/json",
		Data:            bytes.Clone(line),
	}, true, nil
}

// isCloudEvent reports whether the object in line has a top-level
// "specversion" member. The cheap substring test spares plain lines a
// second parse.
func isCloudEvent(line []byte) bool {
	if !bytes.Contains(line, []byte(`"specversion"`)) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return false
		}
		if key == "specversion" {
			return true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

// lineError describes a malformed line for the user.
func lineError(path string, lineNo, off int64, err error) error {
	return fmt.Errorf("file source: %s line %d (byte offset %d): %w", path, lineNo, off, err)
}
