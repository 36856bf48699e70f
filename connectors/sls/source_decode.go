package sls

import (
	"errors"
	"fmt"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// The source decodes PullLogs answers itself, from the bytes the SDK
// returns (GetLogsBytesWithQuery): one pass over the protobuf, no object
// per log or per key, and a log group's logs are turned into events only
// as Read asks for them, so what the source holds is the answer's bytes
// and one batch. Field numbers are those of SLS's log.proto.
const (
	fieldListGroups = 1 // LogGroupList.LogGroups

	fieldGroupLogs   = 1
	fieldGroupTopic  = 3
	fieldGroupSource = 4
	fieldGroupTags   = 6

	fieldLogTime     = 1
	fieldLogContents = 2
	fieldLogTimeNs   = 4

	fieldPairKey   = 1
	fieldPairValue = 2
)

// errMalformed reports a PullLogs answer that is not a LogGroupList.
var errMalformed = errors.New("malformed LogGroupList")

// kv is a log's content or a group's tag, as slices of the answer.
type kv struct{ key, value []byte }

// groupView is one LogGroup of an answer: slices of it, reused from group
// to group.
type groupView struct {
	topic, source []byte
	tags          []kv
	logs          [][]byte // each log's encoded bytes
}

// logView is one Log, reused from log to log.
type logView struct {
	time     uint32
	timeNs   uint32
	hasNs    bool
	contents []kv
}

// nextGroup returns the encoded bytes of the next LogGroup of list and the
// rest; ok is false at the end.
func nextGroup(list []byte) (group, rest []byte, ok bool, err error) {
	for len(list) > 0 {
		num, typ, n := protowire.ConsumeTag(list)
		if n < 0 {
			return nil, nil, false, fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		list = list[n:]
		if num == fieldListGroups && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(list)
			if m < 0 {
				return nil, nil, false, fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(m))
			}
			return v, list[m:], true, nil
		}
		m := protowire.ConsumeFieldValue(num, typ, list)
		if m < 0 {
			return nil, nil, false, fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(m))
		}
		list = list[m:]
	}
	return nil, nil, false, nil
}

// decodeGroup fills g from one encoded LogGroup. Unknown fields are
// skipped, as proto2 does.
func decodeGroup(b []byte, g *groupView) error {
	g.topic, g.source, g.tags, g.logs = nil, nil, g.tags[:0], g.logs[:0]
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fieldGroupLogs:
			g.logs = append(g.logs, v)
		case fieldGroupTopic:
			g.topic = v
		case fieldGroupSource:
			g.source = v
		case fieldGroupTags:
			p, err := decodePair(v)
			if err != nil {
				return err
			}
			g.tags = append(g.tags, p)
		}
		return nil
	})
}

// decodeLog fills l from one encoded Log; Time is required.
func decodeLog(b []byte, l *logView) error {
	l.time, l.timeNs, l.hasNs, l.contents = 0, 0, false, l.contents[:0]
	hasTime := false
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == fieldLogTime && typ == protowire.VarintType:
			l.time, hasTime = uint32(x), true
		case num == fieldLogTimeNs && typ == protowire.Fixed32Type:
			l.timeNs, l.hasNs = uint32(x), true
		case num == fieldLogContents && typ == protowire.BytesType:
			p, err := decodePair(v)
			if err != nil {
				return err
			}
			l.contents = append(l.contents, p)
		}
		return nil
	})
	if err == nil && !hasTime {
		err = fmt.Errorf("%w: a log has no time", errMalformed)
	}
	return err
}

func decodePair(b []byte) (kv, error) {
	var p kv
	var hasKey, hasValue bool
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fieldPairKey:
			p.key, hasKey = v, true
		case fieldPairValue:
			p.value, hasValue = v, true
		}
		return nil
	})
	if err == nil && (!hasKey || !hasValue) {
		err = fmt.Errorf("%w: a key or value is missing", errMalformed)
	}
	return p, err
}

// eachField calls fn for every field of a message: v holds a bytes
// field's value, x a varint's or fixed32's.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x32 uint32
			x32, n = protowire.ConsumeFixed32(b)
			x = uint64(x32)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// str views b as a string without copying, for calls that read it and
// keep nothing (JSON escaping, comparisons): b is a slice of a PullLogs
// answer, which nothing writes to.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
