package sls

import (
	"errors"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func sampleGroup() LogGroup {
	return LogGroup{
		Logs: []Log{
			{Time: 1700000000, Contents: []Pair{{"level", "info"}, {"msg", "hello"}}},
			{Time: 1700000001, TimeNs: 42, Contents: []Pair{{"", ""}, {"ünïcode", "値"}}},
			{Time: 0},
		},
		Category: "cat", Topic: "topic", Source: "10.0.0.1", MachineUUID: "uuid",
		Tags: []Pair{{"__pack_id__", "ABC-1"}, {"k", "v"}},
	}
}

func TestLogGroupRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   LogGroup
	}{
		{"empty", LogGroup{}},
		{"full", sampleGroup()},
		{"only tags", LogGroup{Tags: []Pair{{"a", "b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeLogGroup(AppendLogGroup(nil, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(got), normalize(tt.in)) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, tt.in)
			}
		})
	}
}

// normalize maps nil and empty slices together for comparison.
func normalize(g LogGroup) LogGroup {
	if len(g.Logs) == 0 {
		g.Logs = nil
	}
	if len(g.Tags) == 0 {
		g.Tags = nil
	}
	for i := range g.Logs {
		if len(g.Logs[i].Contents) == 0 {
			g.Logs[i].Contents = nil
		}
	}
	return g
}

func TestDecodeLogGroupSkipsUnknownFields(t *testing.T) {
	t.Parallel()
	b := AppendLogGroup(nil, sampleGroup())
	b = protowire.AppendTag(b, 99, protowire.VarintType)
	b = protowire.AppendVarint(b, 7)
	b = protowire.AppendTag(b, 3, protowire.VarintType) // Topic with the wrong wire type
	b = protowire.AppendVarint(b, 1)
	got, err := DecodeLogGroup(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleGroup()) {
		t.Fatalf("got %#v", got)
	}
}

func TestDecodeLogGroupRejects(t *testing.T) {
	t.Parallel()
	logWithout := func(fields func([]byte) []byte) []byte {
		var b []byte
		b = protowire.AppendTag(b, fieldGroupLogs, protowire.BytesType)
		return protowire.AppendBytes(b, fields(nil))
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"truncated tag", []byte{0x0a}},
		{"length past end", []byte{0x0a, 0x05, 0x08}},
		{"field number zero", []byte{0x00, 0x01}},
		{"log without time", logWithout(func(b []byte) []byte {
			b = protowire.AppendTag(b, fieldLogContents, protowire.BytesType)
			return protowire.AppendBytes(b, appendPair(nil, Pair{"k", "v"}))
		})},
		{"content without value", logWithout(func(b []byte) []byte {
			b = protowire.AppendTag(b, fieldLogTime, protowire.VarintType)
			b = protowire.AppendVarint(b, 1)
			b = protowire.AppendTag(b, fieldLogContents, protowire.BytesType)
			kOnly := protowire.AppendTag(nil, fieldPairKey, protowire.BytesType)
			return protowire.AppendBytes(b, protowire.AppendString(kOnly, "k"))
		})},
		{"tag without key", append(protowire.AppendTag(nil, fieldGroupTags, protowire.BytesType), 0x00)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := DecodeLogGroup(tt.in); !errors.Is(err, ErrMalformedLogGroup) {
				t.Fatalf("err = %v, want ErrMalformedLogGroup", err)
			}
		})
	}
}

// FuzzDecodeLogGroup: the decoder never panics, and whatever it accepts
// survives encode/decode unchanged.
func FuzzDecodeLogGroup(f *testing.F) {
	f.Add(AppendLogGroup(nil, sampleGroup()))
	f.Add(AppendLogGroup(nil, LogGroup{}))
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01})
	f.Add([]byte{0x0b, 0x0c})
	f.Add([]byte{0x32, 0x04, 0x0a, 0x00, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := DecodeLogGroup(b)
		if err != nil {
			return
		}
		again, err := DecodeLogGroup(AppendLogGroup(nil, g))
		if err != nil {
			t.Fatalf("re-decoding an accepted group: %v", err)
		}
		if !reflect.DeepEqual(normalize(again), normalize(g)) {
			t.Fatalf("round trip changed the group:\n%#v\n%#v", g, again)
		}
	})
}

func TestLogGroupList(t *testing.T) {
	t.Parallel()
	a, b := AppendLogGroup(nil, sampleGroup()), AppendLogGroup(nil, LogGroup{Topic: "x"})
	list := appendLogGroupList(nil, [][]byte{a, b})
	var got [][]byte
	err := eachField(list, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != fieldListGroups || typ != protowire.BytesType {
			t.Fatalf("field %d type %d", num, typ)
		}
		got = append(got, v)
		return nil
	})
	if err != nil || len(got) != 2 || string(got[0]) != string(a) || string(got[1]) != string(b) {
		t.Fatalf("list = %q, %v", got, err)
	}
}
