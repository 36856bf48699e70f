package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// The Kafka pipelines of issue 12 end to end through the real ferry
// binary and the test bed's Kafka. Sizes scale with environment variables:
//
//	FERRY_E2E_KAFKA_RECORDS      keyed records of TestKafkaToKafka (default 30000; the figure is 1000000)
//	FERRY_E2E_KAFKA_CDC_CHANGES  mixed changes of TestCDCThroughKafka (default 20000)

// k2kKeys is the number of distinct record keys of TestKafkaToKafka.
const k2kKeys = 600

// k2kRecord is input record seq of key: a binary-mode CloudEvent whose
// headers carry every attribute the Kafka protocol binding defines and
// two extensions, each value derived from key and seq.
func k2kRecord(key, seq int) kafkago.Message {
	k := fmt.Sprintf("key-%d", key)
	value := fmt.Sprintf(`{"key":%q,"seq":%d,"pad":"%s"}`, k, seq, k2kPad)
	h := func(name, v string) kafkago.Header { return kafkago.Header{Key: name, Value: []byte(v)} }
	return kafkago.Message{
		Key:   []byte(k),
		Value: []byte(value),
		Headers: []kafkago.Header{
			h("ce_specversion", "1.0"),
			h("ce_id", fmt.Sprintf("order-%d-%d", key, seq)),
			h("ce_source", "/shop/orders/"+strconv.Itoa(key%7)),
			h("ce_type", "com.example.order.updated.v1"),
			h("ce_subject", k),
			h("ce_time", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(seq)*time.Microsecond+time.Duration(key)).Format(time.RFC3339Nano)),
			h("ce_dataschema", "https://schemas.example.com/order/v1.json"),
			h("ce_tenant", "acme-"+strconv.Itoa(key%3)),
			h("ce_traceparent", fmt.Sprintf("00-%032x-%016x-01", key+1, seq+1)),
			h("content-type", "application/json"),
		},
	}
}

// k2kPad makes each record's value about 200 bytes.
var k2kPad = string(bytes.Repeat([]byte("x"), 150))

// k2kCheck reads an output topic of TestKafkaToKafka and checks every
// record against the input it came from: the same key, value and
// binary-mode attributes, each key in one partition, and per key the
// sequence 0…n-1 in order, where a step back to an earlier sequence
// number is a replay (at-least-once after a kill). It returns the number
// of records read, of replays (steps back) and the extra headers Ferry
// added; every record arrived when it returns without failing the test,
// so read minus the input's count is the number of duplicates.
func k2kCheck(t *testing.T, out *kafkaTopic, perKey []int) (read, replays int, extra map[string]int) {
	t.Helper()
	next := make([]int, len(perKey))    // next sequence number expected per key
	highest := make([]int, len(perKey)) // highest sequence seen + 1
	partOf := make([]int, len(perKey))
	for i := range partOf {
		partOf[i] = -1
	}
	extra = map[string]int{}
	errs := 0
	fail := func(format string, args ...any) {
		if errs++; errs <= 10 {
			t.Errorf(format, args...)
		}
	}
	out.each(func(r *kafkaRecord) {
		read++
		var v struct {
			Key string `json:"key"`
			Seq int    `json:"seq"`
		}
		if err := json.Unmarshal(r.value, &v); err != nil {
			fail("%d@%d: value %.80q: %v", r.partition, r.offset, r.value, err)
			return
		}
		var key int
		if _, err := fmt.Sscanf(v.Key, "key-%d", &key); err != nil || key < 0 || key >= len(perKey) {
			fail("%d@%d: key %q", r.partition, r.offset, v.Key)
			return
		}
		want := k2kRecord(key, v.Seq)
		if !bytes.Equal(r.key, want.Key) || !bytes.Equal(r.value, want.Value) {
			fail("%d@%d: key %q value %.80q; want key %q value %.80q", r.partition, r.offset, r.key, r.value, want.Key, want.Value)
		}
		for _, h := range want.Headers {
			if got, ok := r.header(h.Key); !ok || got != string(h.Value) {
				fail("%d@%d (%s seq %d): header %s = %q (present %v), want %q", r.partition, r.offset, v.Key, v.Seq, h.Key, got, ok, h.Value)
			}
		}
		for _, h := range r.headers {
			if _, ok := (&kafkaRecord{headers: want.Headers}).header(h.Key); !ok {
				extra[h.Key]++
			}
		}
		if partOf[key] == -1 {
			partOf[key] = r.partition
		} else if partOf[key] != r.partition {
			fail("%s in partitions %d and %d", v.Key, partOf[key], r.partition)
		}
		switch {
		case v.Seq == next[key]:
			next[key]++
		case v.Seq < next[key]:
			// A replay: the sequence starts again at an earlier record.
			replays++
			next[key] = v.Seq + 1
		default:
			fail("%s: seq %d after %d (partition %d offset %d): a record lost or reordered", v.Key, v.Seq, next[key]-1, r.partition, r.offset)
			next[key] = v.Seq + 1
		}
		highest[key] = max(highest[key], v.Seq+1)
	})
	for k, n := range perKey {
		if highest[k] != n || next[k] != n {
			fail("key-%d: %d records, last in order %d, highest %d", k, n, next[k], highest[k])
		}
	}
	return read, replays, extra
}

// produceK2K writes records [from, to) of the input, keyed round-robin
// over k2kKeys keys, with kafka-go's own Writer, spread over at least
// the duration spread.
func produceK2K(t *testing.T, w *kafkago.Writer, from, to int, spread time.Duration) {
	t.Helper()
	const batch = 1000
	start := time.Now()
	msgs := make([]kafkago.Message, 0, batch)
	for i := from; i < to; i++ {
		msgs = append(msgs, k2kRecord(i%k2kKeys, i/k2kKeys))
		if len(msgs) == batch || i == to-1 {
			time.Sleep(time.Until(start.Add(spread * time.Duration(i-from) / time.Duration(to-from))))
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			msgs = msgs[:0]
		}
	}
}

// TestKafkaToKafka runs Kafka → Ferry → Kafka with 3 tasks over a
// 6-partition topic of keyed binary-mode CloudEvents, twice from the same
// input: on a worker left alone (every record exactly once, in order per
// key, every attribute kept) and on a worker SIGKILLed mid-stream and
// restarted on its data dir (every record at least once, in order per key
// apart from replays, which are counted and reported).
func TestKafkaToKafka(t *testing.T) {
	records := envInt(t, "FERRY_E2E_KAFKA_RECORDS", 30000)
	ferryBinary(t)
	in := newKafkaTopic(t, "ferry-k2k-in", 6)
	outs := []*kafkaTopic{newKafkaTopic(t, "ferry-k2k-clean", 6), newKafkaTopic(t, "ferry-k2k-kill", 6)}
	perKey := make([]int, k2kKeys)
	for i := range records {
		perKey[i%k2kKeys]++
	}

	// The first third is in the topic before the connectors start; the
	// rest is produced while they run, over at least 6 s, so that the kill
	// comes while records still arrive.
	pw := in.writer()
	t.Cleanup(func() { _ = pw.Close() })
	start := time.Now()
	produceK2K(t, pw, 0, records/3, 0)

	conf := func(out *kafkaTopic) map[string]string {
		return merge(in.sourceConfig(), out.sinkConfig(), map[string]string{
			"tasks.max": "3", "sink.body": "binary", "offset.flush.interval.ms": "500",
		})
	}
	clean := startWorker(t, filepath.Join(t.TempDir(), "clean"), freeAddr(t))
	clean.createConnector("k2k-clean", conf(outs[0]))
	killDir, killAddr := filepath.Join(t.TempDir(), "kill"), freeAddr(t)
	victim := startWorker(t, killDir, killAddr)
	victim.createConnector("k2k-kill", conf(outs[1]))

	produced := make(chan time.Duration, 1)
	producing := make(chan struct{})
	t.Cleanup(func() { <-producing }) // before the writer closes, even after a failure
	go func() {
		defer close(producing)
		produceK2K(t, pw, records/3, records, 6*time.Second)
		produced <- time.Since(start)
	}()
	// Kill once a good part of the stream is through, while records still
	// arrive.
	victim.waitFor("k2k-kill", 3*time.Minute, "half of the records in the output", func() bool {
		return outs[1].total() >= int64(records/2)
	})
	victim.kill()
	atKill := outs[1].total()
	t.Logf("worker SIGKILLed with %d of %d records in its output topic", atKill, records)
	if atKill >= int64(records) {
		t.Fatalf("the kill came after the whole stream was through: nothing tested")
	}
	restarted := startWorker(t, killDir, killAddr)
	produceTime := <-produced
	t.Logf("input: %d records over %d keys and 6 partitions produced with kafka-go in %s", records, k2kKeys, produceTime.Round(time.Millisecond))

	n := outs[0].settle(clean, "k2k-clean", int64(records), 2*time.Second, 5*time.Minute)
	t.Logf("alone: %d records in the output %s after the first was produced", n, (time.Since(start) - 2*time.Second).Round(100*time.Millisecond))
	m := outs[1].settle(restarted, "k2k-kill", int64(records), 2*time.Second, 5*time.Minute)
	t.Logf("killed: %d records in the output", m)

	read, replays, extra := k2kCheck(t, outs[0], perKey)
	if read != records || replays != 0 {
		t.Errorf("alone: %d records read, %d replays; want %d and none", read, replays, records)
	}
	t.Logf("alone: %d records, every key in one partition and in order, every attribute kept; headers Ferry added: %v", read, extra)
	read, replays, _ = k2kCheck(t, outs[1], perKey)
	dups := read - records
	t.Logf("killed mid-stream: %d records read = %d + %d duplicates (%.2f%%) in %d per-key replays; none lost, every key in order apart from the replays",
		read, records, dups, 100*float64(dups)/float64(records), replays)
}

// TestCDCThroughKafka replicates a database through Kafka: mysql-cdc →
// kafka sink (structured CloudEvents, keyed by primary key, tombstones
// after deletes) into a 6-partition topic, and kafka source (2 tasks) →
// rds sink in cdc mode into another database. After a snapshot of seeded
// rows and a mixed load (inserts, updates, deletes over three tables with
// a spread of column types), the target's tables must equal the source's
// (CHECKSUM TABLE), and the topic must hold every change in order per key
// with the exact images, and one tombstone per delete.
func TestCDCThroughKafka(t *testing.T) {
	changes := envInt(t, "FERRY_E2E_KAFKA_CDC_CHANGES", 20000)
	const seedRows = 500
	ferryBinary(t)
	src, dst := newCDCDB(t, "ksrc"), newCDCDB(t, "kdst")
	load := newCDCLoad(12)
	for _, tb := range load.tables {
		src.exec(tb.create)
		dst.exec(tb.create)
	}
	src.exec("CREATE TABLE done (id INT PRIMARY KEY)")
	dst.exec("CREATE TABLE done (id INT PRIMARY KEY)")
	if err := load.seed(src.db, seedRows); err != nil {
		t.Fatal(err)
	}
	topic := newKafkaTopic(t, "ferry-cdc-kafka", 6)

	w := startWorker(t, filepath.Join(t.TempDir(), "data"), freeAddr(t))
	w.createConnector("cdc-kafka", merge(cdcCommon, src.sourceConfig(), topic.sinkConfig()))
	w.createConnector("kafka-rds", merge(cdcCommon, topic.sourceConfig(), dst.sinkConfig(), map[string]string{"tasks.max": "2"}))
	w.waitFor("kafka-rds", time.Minute, "snapshot in the target", func() bool {
		return dst.count("customers") == seedRows
	})
	start := time.Now()
	if err := load.run(src.db, changes); err != nil {
		t.Fatal(err)
	}
	src.exec("INSERT INTO done VALUES (1)")
	t.Logf("load: %d changes (%d inserts, %d updates, %d deletes) in %s, load avg %s",
		changes, load.ops['c'], load.ops['u'], load.ops['d'], time.Since(start).Round(time.Millisecond), loadavg())
	waitMarker(t, w, "kafka-rds", dst, 1, 3*time.Minute)
	t.Logf("target caught up %s after the load began", time.Since(start).Round(time.Millisecond))
	compareTables(t, src, dst, "orders", "items", "customers", "done")

	// The topic: every change in order per key, a tombstone per delete.
	vf := load.verifier(src.name)
	tombstones, others := 0, 0
	topic.each(func(r *kafkaRecord) {
		if r.value == nil {
			tombstones++
			return
		}
		var ev cdcEvent
		if err := json.Unmarshal(r.value, &ev); err != nil {
			vf.fail("partition %d offset %d: value is not a CloudEvent: %v", r.partition, r.offset, err)
			return
		}
		if !vf.add(&ev) {
			others++
		}
	})
	for _, e := range vf.finish() {
		t.Error("topic: " + e)
	}
	if vf.received != load.events || vf.replays != 0 {
		t.Errorf("topic: %d change events, %d replays; want %d, none", vf.received, vf.replays, load.events)
	}
	if tombstones != load.ops['d'] {
		t.Errorf("topic: %d tombstones for %d deletes", tombstones, load.ops['d'])
	}
	t.Logf("topic: %d change events (%d snapshot reads + %d changes) in order per key with exact images, %d tombstones, %d other events",
		vf.received, load.ops['r'], changes, tombstones, others)
}
