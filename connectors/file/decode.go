package file

import (
	"bytes"
	"errors"
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
		if api.ValidJSON(line) {
			return api.Event{}, false, errNotObject
		}
		return api.Event{}, false, errInvalidJSON
	}
	// A CloudEvent has a top-level specversion member. The substring
	// test spares plain lines the event decoder; the decoder itself
	// tells an object without the member (ErrNoSpecVersion) apart, and
	// also rejects what a sink could not encode, so a bad line is
	// reported with its offset.
	if bytes.Contains(line, []byte(`"specversion"`)) {
		err := ev.UnmarshalJSON(line)
		switch {
		case err == nil:
			return ev, true, nil
		case !errors.Is(err, api.ErrNoSpecVersion):
			if !api.ValidJSON(line) {
				return api.Event{}, false, errInvalidJSON
			}
			return api.Event{}, false, err
		}
		// specversion only nested deeper: a plain object, already
		// validated.
	} else if !api.ValidJSON(line) {
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

// lineError describes a malformed line for the user.
func lineError(path string, lineNo, off int64, err error) error {
	return fmt.Errorf("file source: %s line %d (byte offset %d): %w", path, lineNo, off, err)
}
