package rocketmq

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// The sink writes batch messages' bodies itself. These tests hold them to
// what the producer makes of the same records built as library messages
// with a property map, as the sink built them before (mapMessage):
// producer.MarshalMessageBatch, the bytes the broker stores and consumers
// read. They must be equal byte for byte but for the order of each
// message's properties, which the library takes from a map and so
// varies from one message to the next anyway.

// mapMessage builds r's message as a primitive.Message with its
// properties in a map, the way the sink did before it wrote frames.
func mapMessage(e *encoder, r *api.Record) (*primitive.Message, error) {
	ev := &r.Event
	topic, err := e.render(e.topic, ev)
	if err != nil {
		return nil, err
	}
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	props := make(map[string]string, 12)
	var buf []byte
	if e.body == kit.BodyStructured {
		buf = make([]byte, 0, 256+len(ev.Data))
	}
	body, err := kit.RocketMQ.Encode(e.body, ev, buf, func(k, v string) { props[k] = v })
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		body = emptyBody
	}
	tag, err := e.render(e.tag, ev)
	if err != nil {
		return nil, err
	}
	if tag != "" {
		props[primitive.PropertyTags] = tag
	}
	recordKey := keyText(r.Key)
	keys := recordKey
	if e.keys.IsSet() {
		if keys, err = e.render(e.keys, ev); err != nil {
			return nil, err
		}
	}
	switch {
	case keys == "":
		keys = ev.ID
	case ev.ID != "" && keys != ev.ID:
		keys = keys + primitive.PropertyKeySeparator + ev.ID
	}
	if keys != "" {
		props[primitive.PropertyKeys] = keys
	}
	shard := ""
	if e.ordered {
		shard = recordKey
		if shard == "" && e.keys.IsSet() {
			shard = keys
		}
		if shard != "" {
			props[primitive.PropertyShardingKey] = shard
		}
	}
	if e.fifo {
		if group := cmp.Or(shard, keys); group != "" {
			props[propMessageGroup] = group
		}
	}
	props[primitive.PropertyUniqueClientMessageIdKeyIndex] = e.uniqID()
	plen := 0
	for k, v := range props {
		if strings.ContainsAny(k, "\x01\x02") || strings.ContainsAny(v, "\x01\x02") {
			return nil, fmt.Errorf("%w: %s", errPropertyChar, k)
		}
		plen += len(k) + len(v) + 2
	}
	if plen > maxPropertyBytes {
		return nil, errTooLarge
	}
	if fixedMessageBytes+len(body)+plen > e.maxBytes {
		return nil, errTooLarge
	}
	msg := primitive.NewMessage(topic, body)
	msg.WithProperties(props)
	return msg, nil
}

// counter returns a UNIQ_KEY generator that counts, so two encoders of the
// same records give the same ids.
func counter() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("ID%08d", n) }
}

// sameBatch fails unless got (the sink's batch body) is want (the
// library's) with each message's properties in got's order.
func sameBatch(t *testing.T, got, want []byte) {
	t.Helper()
	for i := 0; len(got) > 0 || len(want) > 0; i++ {
		gm, gn, err := decodeFrame(got)
		if err != nil {
			t.Fatalf("message %d: ours: %v", i, err)
		}
		wm, wn, err := decodeFrame(want)
		if err != nil {
			t.Fatalf("message %d: the library's: %v", i, err)
		}
		// Rewrite the library's frame with its properties in our order.
		gp, wp := gm.GetProperties(), wm.GetProperties()
		if !maps.Equal(gp, wp) {
			t.Fatalf("message %d: properties\n%v\nwant\n%v", i, gp, wp)
		}
		body := int(binary.BigEndian.Uint32(got[16:]))
		reordered := slices.Clone(want[:bodyAt+body+2])
		for _, kv := range bytes.SplitAfter(got[bodyAt+body+2:gn], []byte{propertySeparator}) {
			if len(kv) == 0 {
				continue
			}
			name, _, _ := bytes.Cut(kv, []byte{nameValueSeparator})
			reordered = append(reordered, name...)
			reordered = append(reordered, nameValueSeparator)
			reordered = append(reordered, wp[string(name)]...)
			reordered = append(reordered, propertySeparator)
		}
		if len(reordered) != wn || !bytes.Equal(got[:gn], reordered) {
			t.Fatalf("message %d:\n%q\nwant (properties reordered)\n%q\nas the library wrote it\n%q", i, got[:gn], reordered, want[:wn])
		}
		got, want = got[gn:], want[wn:]
	}
}

// batches encodes recs both ways under cfg and returns the sink's batch
// body, laid out as Write lays out one queue's messages, and the
// library's, of the records both accept.
func batches(t *testing.T, cfg map[string]string, recs []api.Record) (got, want []byte) {
	t.Helper()
	ours, theirs := testEncoder(t, cfg), testEncoder(t, cfg)
	ours.uniqID, theirs.uniqID = counter(), counter()
	var msgs []message
	var lib []*primitive.Message
	for i := range recs {
		m, err := ours.encode(i, &recs[i])
		lm, lerr := mapMessage(theirs, &recs[i])
		if (err == nil) != (lerr == nil) {
			t.Fatalf("record %d: encode %v, the map encoding %v", i, err, lerr)
		}
		if err != nil {
			continue
		}
		if m.topic != lm.Topic {
			t.Fatalf("record %d: topic %q, want %q", i, m.topic, lm.Topic)
		}
		msgs = append(msgs, m)
		lib = append(lib, lm)
	}
	if len(msgs) < 2 {
		t.Fatalf("%d records accepted; a batch needs two", len(msgs))
	}
	s := &sink{}
	s.layout([][]message{msgs})
	batch := batchOf(msgs)
	if !batch.Batch || batch.Topic != msgs[0].topic {
		t.Fatalf("batchOf: batch %v, topic %q", batch.Batch, batch.Topic)
	}
	// Alone, a message is the library's message with the same
	// properties and body.
	for i := range msgs {
		single := batchOf(msgs[i : i+1])
		if single.Batch || !bytes.Equal(single.Body, lib[i].Body) || !maps.Equal(single.GetProperties(), lib[i].GetProperties()) {
			t.Fatalf("record %d alone: %q %v, want %q %v", i, single.Body, single.GetProperties(), lib[i].Body, lib[i].GetProperties())
		}
	}
	return batch.Body, producer.MarshalMessageBatch(lib...)
}

// changeRecords returns n change events with keys of every kind and some
// odd records. Only with extensions are they given more than one: the
// structured body lists extensions in map order (api.Event.AppendJSON),
// so a structured body of several is not the same twice, whoever encodes
// it.
func changeRecords(n int, extensions bool) []api.Record {
	recs := make([]api.Record, n)
	for i := range recs {
		ev := api.Event{ID: fmt.Sprintf("mysql-bin.000003:%d:0", 100+i), Source: "/ferry/mysql-cdc/bench", SpecVersion: "1.0",
			Type: "com.ferry.mysql.update", Subject: "bench.bench", DataContentType: "application/json",
			Time: time.Date(2024, 5, 1, 12, 34, 56, 123000, time.UTC),
			Data: fmt.Appendf(nil, `{"after":{"id":%d,"name":"n-%d"},"op":"u","table":"orders","ts_ms":%d}`, i, i, 1714566896000+i)}
		if i%2 == 0 {
			ev.MarkDataJSON()
		}
		ev.SetExtension("contenttype", "text/x-ext") // binary mode: the same property as datacontenttype
		if extensions {
			ev.SetExtension("table", "orders")
			ev.SetExtension("seq", int64(i))
		}
		var key []byte
		switch i % 4 {
		case 0:
			key = fmt.Appendf(nil, `{"id":%d}`, i)
		case 1:
			key = []byte{0, byte(i), 0xff} // base64 in the properties
		case 2: // no key
		case 3:
			key = []byte("k-" + strconv.Itoa(i))
		}
		recs[i] = api.Record{Event: ev, Key: key}
	}
	recs[5].Event.Data = nil // an empty body
	recs[7].Event.ID = ""
	recs[9].Event.Data = []byte(`{"bad":`) // not JSON: structured mode rejects it
	return recs
}

// TestBatchMatchesTheLibrary compares the sink's batch bodies with
// producer.MarshalMessageBatch's for the same records, under every body
// mode and the options that add properties.
func TestBatchMatchesTheLibrary(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cfg  map[string]string
	}{
		{"default", map[string]string{"topic": "t1"}},
		{"binary", map[string]string{"topic": "t1", "body": "binary"}},
		{"data", map[string]string{"topic": "t1", "body": "data"}},
		{"unordered", map[string]string{"topic": "t1", "ordered": "false"}},
		{"FIFO", map[string]string{"topic": "t1", "message.type": "FIFO", "body": "binary"}},
		{"parameters", map[string]string{"topic.form": "JSONPATH", "topic.value": "$.data.table",
			"tag.form": "JSONPATH", "tag.value": "$.data.op", "keys.form": "TEMPLATE", "keys.value": `{"id":"$.data.after.id"}`, "keys.template": "order-${id}"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			structured := c.cfg["body"] == "" || c.cfg["body"] == "structured"
			got, want := batches(t, c.cfg, changeRecords(24, !structured))
			sameBatch(t, got, want)
		})
	}
}

// TestBatchBodyIsTheWire checks that a batch's body is the laid-out frames
// themselves, not a copy, and that frames that do not adjoin are copied.
func TestBatchBodyIsTheWire(t *testing.T) {
	t.Parallel()
	e := testEncoder(t, map[string]string{"topic": "t1"})
	recs := changeRecords(12, false)
	var msgs []message
	for i := range 4 {
		m, err := e.encode(i, &recs[i])
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	s := &sink{}
	s.layout([][]message{{msgs[2], msgs[0]}, {msgs[1], msgs[3]}})
	if s.wire == nil || cap(s.wire) < len(msgs[0].frame)*3 {
		t.Fatalf("wire buffer of %d bytes kept", cap(s.wire))
	}
	swapped := []message{msgs[2], msgs[0]}
	s.layout([][]message{swapped})
	b := batchOf(swapped)
	if &b.Body[0] != &s.wire[:1][0] {
		t.Error("the batch body is a copy of the wire buffer")
	}
	// Out of layout order: copied, still in the order given.
	apart := []message{swapped[1], swapped[0]}
	b = batchOf(apart)
	if want := append(slices.Clone(apart[0].frame), apart[1].frame...); !bytes.Equal(b.Body, want) {
		t.Error("frames out of order not copied in the order given")
	}
}

// FuzzBatchMatchesTheLibrary holds the frames to the library's encoding
// for arbitrary events.
func FuzzBatchMatchesTheLibrary(f *testing.F) {
	f.Add("id", "/src", "type", "subj", `{"t":"orders","op":"c"}`, "application/json", "key", "ext", "name", uint8(0))
	f.Add("", "", "", "", "", "", "", "", "contenttype", uint8(1))
	f.Add("a b", "s", "t", "", `"x"`, "text/plain", "k\xff", "v", "id", uint8(6))
	f.Fuzz(func(t *testing.T, id, source, typ, subject, data, ct, key, ext, extName string, mode uint8) {
		cfg := map[string]string{"topic": "t1", "body": []string{"structured", "binary", "data"}[mode%3]}
		if mode&4 != 0 {
			cfg["tag.form"], cfg["tag.value"] = "JSONPATH", "$.data.op"
		}
		if mode&8 != 0 {
			cfg["message.type"] = "FIFO"
		}
		if mode&16 != 0 {
			cfg["ordered"] = "false"
		}
		ev := api.Event{ID: id, Source: source, Type: typ, Subject: subject, Data: []byte(data), DataContentType: ct,
			Time: time.Unix(int64(len(data)), 0)}
		ev.SetExtension(extName, ext)
		recs := []api.Record{
			{Event: ev, Key: []byte(key)},
			{Event: api.Event{ID: "fixed", Source: "/s", Type: "t", Data: []byte(`{"op":"u"}`)}, Key: []byte("k")},
			{Event: ev},
		}
		ours, theirs := testEncoder(t, cfg), testEncoder(t, cfg)
		ours.uniqID, theirs.uniqID = counter(), counter()
		if _, err := ours.encode(0, &recs[0]); err != nil {
			if _, lerr := mapMessage(theirs, &recs[0]); lerr == nil {
				t.Fatalf("encode %v, the map encoding accepts", err)
			}
			return
		}
		got, want := batches(t, cfg, recs)
		sameBatch(t, got, want)
	})
}
