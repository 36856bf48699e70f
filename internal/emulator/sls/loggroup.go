package sls

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// LogGroup is SLS's unit of write and read: logs sharing topic, source and
// tags (message LogGroup of SLS's log.proto, proto2).
type LogGroup struct {
	Logs        []Log
	Category    string
	Topic       string
	Source      string
	MachineUUID string
	Tags        []Pair
}

// Log is one log line: a unix time in seconds, an optional nanosecond part,
// and ordered key/value contents (message Log).
type Log struct {
	Time     uint32
	TimeNs   uint32 // encoded only when not zero
	Contents []Pair
}

// Pair is a key/value pair: a log's content (LogContent) or a group's tag
// (LogTag); both messages have required Key = 1 and Value = 2.
type Pair struct {
	Key   string
	Value string
}

// Field numbers of log.proto.
const (
	fieldGroupLogs        = 1
	fieldGroupCategory    = 2
	fieldGroupTopic       = 3
	fieldGroupSource      = 4
	fieldGroupMachineUUID = 5
	fieldGroupTags        = 6

	fieldLogTime     = 1
	fieldLogContents = 2
	fieldLogTimeNs   = 4

	fieldPairKey   = 1
	fieldPairValue = 2

	fieldListGroups = 1 // LogGroupList.LogGroups
)

// DecodeLogGroup parses a serialized LogGroup. As proto2 does, it skips
// unknown fields (and known fields sent with another wire type) and rejects a
// Log without Time or a content or tag without Key or Value; the errors wrap
// ErrMalformedLogGroup.
func DecodeLogGroup(b []byte) (LogGroup, error) {
	var g LogGroup
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fieldGroupLogs:
			l, err := decodeLog(v)
			if err != nil {
				return err
			}
			g.Logs = append(g.Logs, l)
		case fieldGroupCategory:
			g.Category = string(v)
		case fieldGroupTopic:
			g.Topic = string(v)
		case fieldGroupSource:
			g.Source = string(v)
		case fieldGroupMachineUUID:
			g.MachineUUID = string(v)
		case fieldGroupTags:
			p, err := decodePair(v, "LogTag")
			if err != nil {
				return err
			}
			g.Tags = append(g.Tags, p)
		}
		return nil
	})
	return g, err
}

func decodeLog(b []byte) (Log, error) {
	var l Log
	hasTime := false
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch {
		case num == fieldLogTime && typ == protowire.VarintType:
			// uint32 keeps the low 32 bits of a longer varint, as protobuf does.
			l.Time, hasTime = uint32(n), true
		case num == fieldLogContents && typ == protowire.BytesType:
			p, err := decodePair(v, "LogContent")
			if err != nil {
				return err
			}
			l.Contents = append(l.Contents, p)
		case num == fieldLogTimeNs && typ == protowire.Fixed32Type:
			l.TimeNs = uint32(n)
		}
		return nil
	})
	if err == nil && !hasTime {
		err = fmt.Errorf("%w: Log without required Time", ErrMalformedLogGroup)
	}
	return l, err
}

func decodePair(b []byte, what string) (Pair, error) {
	var p Pair
	hasKey, hasValue := false, false
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fieldPairKey:
			p.Key, hasKey = string(v), true
		case fieldPairValue:
			p.Value, hasValue = string(v), true
		}
		return nil
	})
	if err == nil && (!hasKey || !hasValue) {
		err = fmt.Errorf("%w: %s without required Key or Value", ErrMalformedLogGroup, what)
	}
	return p, err
}

// eachField walks the fields of one message, handing fn the payload of
// length-delimited fields (v) or the value of varint and fixed fields (n).
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error) error {
	for len(b) > 0 {
		num, typ, tl := protowire.ConsumeTag(b)
		if tl < 0 {
			return fmt.Errorf("%w: %v", ErrMalformedLogGroup, protowire.ParseError(tl))
		}
		b = b[tl:]
		var (
			v  []byte
			n  uint64
			vl int
		)
		switch typ {
		case protowire.VarintType:
			n, vl = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, vl = protowire.ConsumeFixed32(b)
			n = uint64(x)
		case protowire.Fixed64Type:
			n, vl = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, vl = protowire.ConsumeBytes(b)
		default:
			vl = protowire.ConsumeFieldValue(num, typ, b)
		}
		if vl < 0 {
			return fmt.Errorf("%w: field %d: %v", ErrMalformedLogGroup, num, protowire.ParseError(vl))
		}
		b = b[vl:]
		if err := fn(num, typ, v, n); err != nil {
			return err
		}
	}
	return nil
}

// AppendLogGroup appends g in protobuf wire format to b. Optional strings are
// written only when not empty, so an empty one does not survive a round trip
// as "present".
func AppendLogGroup(b []byte, g LogGroup) []byte {
	for _, l := range g.Logs {
		b = protowire.AppendTag(b, fieldGroupLogs, protowire.BytesType)
		b = protowire.AppendBytes(b, appendLog(nil, l))
	}
	b = appendString(b, fieldGroupCategory, g.Category)
	b = appendString(b, fieldGroupTopic, g.Topic)
	b = appendString(b, fieldGroupSource, g.Source)
	b = appendString(b, fieldGroupMachineUUID, g.MachineUUID)
	for _, t := range g.Tags {
		b = protowire.AppendTag(b, fieldGroupTags, protowire.BytesType)
		b = protowire.AppendBytes(b, appendPair(nil, t))
	}
	return b
}

func appendLog(b []byte, l Log) []byte {
	b = protowire.AppendTag(b, fieldLogTime, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(l.Time))
	for _, c := range l.Contents {
		b = protowire.AppendTag(b, fieldLogContents, protowire.BytesType)
		b = protowire.AppendBytes(b, appendPair(nil, c))
	}
	if l.TimeNs != 0 {
		b = protowire.AppendTag(b, fieldLogTimeNs, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, l.TimeNs)
	}
	return b
}

func appendPair(b []byte, p Pair) []byte {
	b = protowire.AppendTag(b, fieldPairKey, protowire.BytesType)
	b = protowire.AppendString(b, p.Key)
	b = protowire.AppendTag(b, fieldPairValue, protowire.BytesType)
	return protowire.AppendString(b, p.Value)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendLogGroupList writes a LogGroupList whose groups are already
// serialized, so stored groups go out byte for byte as they came in.
func appendLogGroupList(b []byte, groups [][]byte) []byte {
	for _, g := range groups {
		b = protowire.AppendTag(b, fieldListGroups, protowire.BytesType)
		b = protowire.AppendBytes(b, g)
	}
	return b
}
