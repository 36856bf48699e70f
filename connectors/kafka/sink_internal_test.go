package kafka

import (
	"testing"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ferryhq/ferry/api"
)

// TestHashPartitionIsJavas: keys land where Kafka's Java producer puts
// them: toPositive(murmur2(key)) % partitions, with the murmur2 values of
// Kafka's own UtilsTest.testMurmur2.
func TestHashPartitionIsJavas(t *testing.T) {
	t.Parallel()
	for key, javaHash := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		for _, n := range []int{1, 2, 3, 6, 7, 12, 100, 1024, 5000} {
			want := int(uint32(javaHash)&0x7fffffff) % n
			if got := hashPartition([]byte(key), n); got != want {
				t.Errorf("key %q over %d partitions: %d, Java's producer: %d", key, n, got, want)
			}
		}
	}
}

// FuzzHashPartition holds hashPartition to kafka-go's Murmur2Balancer
// (the Java producer's hash), for any key and partition count.
func FuzzHashPartition(f *testing.F) {
	for _, k := range []string{"", "a", "ab", "abc", "abcd", "abcde", `{"id":42}`} {
		f.Add([]byte(k), uint16(6))
	}
	f.Fuzz(func(t *testing.T, key []byte, n uint16) {
		if n == 0 {
			return
		}
		parts := make([]int, n)
		for i := range parts {
			parts[i] = i
		}
		want := (&kafkago.Murmur2Balancer{Consistent: true}).Balance(kafkago.Message{Key: key}, parts...)
		if got := hashPartition(key, int(n)); got != want {
			t.Fatalf("key %q over %d partitions: %d, kafka-go's Murmur2Balancer: %d", key, n, got, want)
		}
	})
}

// FuzzEncode feeds arbitrary events and keys to the encoder under every
// body: no panic; every message it accepts fits max.message.bytes; a
// tombstone follows only a keyed delete, with its key and no value.
func FuzzEncode(f *testing.F) {
	f.Add([]byte(`{"op":"d","before":{"id":1}}`), []byte(`{"id":1}`), "application/json", "ext", uint8(0))
	f.Add([]byte(`{"op":"c"}`), []byte{}, "", "", uint8(1))
	f.Add([]byte{0xff, 0x00}, []byte("k"), "application/octet-stream", "x", uint8(2))
	f.Add([]byte(`"op"`), []byte("k"), "text/plain", "", uint8(0))
	f.Fuzz(func(t *testing.T, data, key []byte, ct, ext string, body uint8) {
		c, err := sinkSpec.Parse(map[string]string{"brokers": "127.0.0.1:9092", "topic": "t", "max.message.bytes": "2048",
			"body": []string{"structured", "binary", "data"}[body%3], "headers.h.form": "JSONPATH", "headers.h.value": "$.data.op"})
		if err != nil {
			t.Fatal(err)
		}
		e, err := newEncoder(c)
		if err != nil {
			t.Fatal(err)
		}
		ev := api.Event{ID: "1", Source: "/s", SpecVersion: "1.0", Type: "t", DataContentType: ct, Data: data}
		if ext != "" {
			ev.SetExtension("e", ext)
		}
		msgs, err := e.encode(nil, 0, &api.Record{Event: ev, Key: key}, "t")
		if err != nil {
			return
		}
		if len(msgs) == 0 || len(msgs) > 2 {
			t.Fatalf("%d messages", len(msgs))
		}
		if msgs[0].size+batchOverhead > 2048 || msgs[0].value == nil {
			t.Fatalf("first message: size %d, value nil %v", msgs[0].size, msgs[0].value == nil)
		}
		if len(msgs) == 2 && (len(key) == 0 || msgs[1].value != nil || string(msgs[1].key) != string(key) || msgs[0].last || !msgs[1].last) {
			t.Fatalf("bad tombstone after a record with key %q", key)
		}
	})
}
