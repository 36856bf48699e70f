package kafka_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/kafka"
)

// TestSourceConformance runs the api conformance kit over a
// four-partition topic, also split over two tasks (each partition read
// by exactly one). Not parallel: the kit checks for leaked goroutines.
// The kit reads every record in each run: the source fetches partitions
// in concurrent requests, so which partitions a run's first records come
// from varies, and the resume check needs the reference run to hold every
// partition's records.
func TestSourceConformance(t *testing.T) {
	b := newBed(t)
	topic := b.topic(t, "conf", 4)
	for p := range 4 {
		b.values(t, topic, p, p*100, 30)
	}
	apitest.RunSource(t, apitest.SourceCase{
		Plugin: kafka.Source,
		Config: b.config("topics", topic, "batch.size", "7"),
		Expect: 120,
		Tasks:  2,
	})
}

// TestSourceResume: a source reopened with the positions committed so far
// reads exactly the records after them, including ones produced while it
// was down: nothing lost, nothing read again before the committed point.
func TestSourceResume(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	topic := b.topic(t, "resume", 3)
	for p := range 3 {
		b.values(t, topic, p, 0, 50)
	}
	raw := b.config("topics", topic, "batch.size", "16")
	src := openSource(t, raw, 0, 1, nil)
	first := readN(t, src, 90, 30*time.Second)
	// The engine committed only part of what was read: the tail after it
	// is read again, nothing before it.
	committed := lastPositions(first[:60])
	if err := src.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for p := range 3 {
		b.values(t, topic, p, 50, 10)
	}
	src = openSource(t, raw, 0, 1, committed)
	want := 0
	for p := range 3 {
		off, _ := strconv.ParseInt(string(committed[topic+"-"+strconv.Itoa(p)]), 10, 64)
		want += 60 - int(off)
	}
	second := readN(t, src, want, 30*time.Second)
	if extra := readFor(t, src, 500*time.Millisecond); len(extra) > 0 {
		t.Fatalf("%d records beyond the expected %d", len(extra), want)
	}
	got := offsetsByPartition(t, second)
	for p := range 3 {
		name := topic + "-" + strconv.Itoa(p)
		from, _ := strconv.ParseInt(string(committed[name]), 10, 64)
		if !slices.Equal(got[name], seq(from, 60)) {
			t.Errorf("%s after restart: offsets %v, want %d..59", name, got[name], from)
		}
	}
}

// TestSourceStartModes: start decides where a partition with no stored
// position begins, and never moves one that has a position.
func TestSourceStartModes(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	topic := b.topic(t, "start", 1)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	msgs := make([]msg, 10)
	for i := range msgs {
		msgs[i] = msg{value: []byte(strconv.Itoa(i)), time: t0.Add(time.Duration(i) * time.Second)}
	}
	b.produce(t, topic, 0, msgs...)
	name := topic + "-0"
	for _, tc := range []struct {
		name      string
		start     string
		committed map[string]api.Position
		want      []int64 // offsets read before the new record
	}{
		{"earliest", "earliest", nil, seq(0, 10)},
		{"latest", "latest", nil, nil},
		{"timestamp", "timestamp:" + strconv.FormatInt(t0.Add(5*time.Second).UnixMilli(), 10), nil, seq(5, 10)},
		{"timestamp after the last record", "timestamp:" + strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10), nil, nil},
		{"stored position wins over latest", "latest", map[string]api.Position{name: api.Position("3")}, seq(3, 10)},
		{"stored position wins over earliest", "earliest", map[string]api.Position{name: api.Position("8")}, seq(8, 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := openSource(t, b.config("topics", topic, "start", tc.start), 0, 1, tc.committed)
			got := offsetsByPartition(t, readFor(t, src, time.Second))[name]
			if !slices.Equal(got, tc.want) {
				t.Fatalf("read offsets %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSourceTasksCoverPartitionsOnce: three tasks over a six-partition
// topic read every record exactly once between them, each partition by
// one task.
func TestSourceTasksCoverPartitionsOnce(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	topic := b.topic(t, "tasks", 6)
	for p := range 6 {
		b.values(t, topic, p, p*1000, 20)
	}
	raw := b.config("topics", topic)
	owner := map[string]int{}
	total := 0
	for task := range 3 {
		src := openSource(t, raw, task, 3, nil)
		recs := readFor(t, src, 2*time.Second)
		total += len(recs)
		for part, offs := range offsetsByPartition(t, recs) {
			if prev, ok := owner[part]; ok {
				t.Errorf("%s read by tasks %d and %d", part, prev, task)
			}
			owner[part] = task
			if !slices.Equal(offs, seq(0, 20)) {
				t.Errorf("task %d, %s: offsets %v", task, part, offs)
			}
		}
	}
	if len(owner) != 6 || total != 120 {
		t.Fatalf("partitions read: %v, %d records; want all 6, 120 records", sortedKeys(owner), total)
	}
}

// TestSourcePicksUpAddedPartitions: partitions added to a topic while the
// tasks run are read, each by exactly one task, from their first record.
func TestSourcePicksUpAddedPartitions(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	topic := b.topic(t, "grow", 2)
	raw := b.config("topics", topic, "start", "latest")
	srcs := []api.Source{openSource(t, raw, 0, 2, nil), openSource(t, raw, 1, 2, nil)}
	b.addPartitions(t, topic, 5)
	// Written before any task can have seen the new partitions: a new
	// partition starts at its first record whatever start says.
	for p := range 5 {
		b.values(t, topic, p, p*100, 3)
	}
	seen := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 5 && time.Now().Before(deadline) {
		for i, src := range srcs {
			for part, offs := range offsetsByPartition(t, readFor(t, src, 300*time.Millisecond)) {
				if prev, ok := seen[part]; ok && prev != i {
					t.Fatalf("%s read by tasks %d and %d", part, prev, i)
				}
				seen[part] = i
				if !slices.Equal(offs, seq(0, 3)) {
					t.Errorf("%s: offsets %v, want 0..2", part, offs)
				}
			}
		}
	}
	if len(seen) != 5 {
		t.Fatalf("partitions read: %v, want 5", seen)
	}
}

// TestSourceRegexPicksUpNewTopics: a topic created later that matches
// topics.regex is read; one that does not match is not.
func TestSourceRegexPicksUpNewTopics(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	first := b.topic(t, "rx", 1)
	prefix := strings.TrimSuffix(first, first[strings.LastIndexByte(first, '-'):])
	raw := b.config("topics.regex", strings.ReplaceAll(prefix, ".", `\.`)+`-\d+-x`)
	src := openSource(t, raw, 0, 1, nil)
	matching := b.topicNamed(t, prefix+"-7-x", 2)
	other := b.topicNamed(t, prefix+"-8-y", 1)
	b.values(t, matching, 1, 0, 4)
	b.values(t, other, 0, 0, 4)
	var got []api.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 4 && time.Now().Before(deadline) {
		got = append(got, readFor(t, src, 500*time.Millisecond)...)
	}
	offs := offsetsByPartition(t, got)
	if len(offs) != 1 || !slices.Equal(offs[matching+"-1"], seq(0, 4)) {
		t.Fatalf("read %v, want %s-1 offsets 0..3 only", offs, matching)
	}
}

// TestSourceGroupOffsetsReachLagZero runs the source in the engine: the
// positions the engine commits are published to the consumer group, and a
// topic that goes quiet still reaches lag 0 there (Kafka's tools compute
// the group's lag as high watermark − committed offset).
func TestSourceGroupOffsetsReachLagZero(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	topic := b.topic(t, "group", 3)
	for p := range 3 {
		b.values(t, topic, p, 0, 7+p) // 7, 8, 9 records: partial batches
	}
	group := "ferry-src-test-" + topic
	raw := b.config("topics", topic, "group.id", group, "group.commit.interval", "200ms")
	run := startTask(t, raw)
	want := map[int]int64{0: 7, 1: 8, 2: 9}
	deadline := time.Now().Add(20 * time.Second)
	var got map[int]int64
	for time.Now().Before(deadline) {
		if got = b.groupOffsets(t, group, topic, 3); mapsEqual(got, want) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !mapsEqual(got, want) {
		t.Fatalf("group offsets %v, want %v (lag 0 on a quiet topic)", got, want)
	}
	if lag := run.lag(); len(lag) != 3 || lag[topic+"-0"] != 0 || lag[topic+"-2"] != 0 {
		t.Errorf("source lag %v, want 0 on each of 3 partitions", lag)
	}
	// More records, then a stop: the stop publishes the final positions
	// even before the timer would.
	b.values(t, topic, 0, 7, 5)
	run.waitRecords(t, 29)
	run.stop(t)
	if got := b.groupOffsets(t, group, topic, 3); got[0] != 12 {
		t.Fatalf("after stop: group offsets %v, want partition 0 at 12", got)
	}
}

// TestSourceLag: the lag is high watermark − next offset per partition
// while the source is behind.
func TestSourceLag(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	topic := b.topic(t, "lag", 1)
	for i := range 10 {
		b.produce(t, topic, 0, msg{value: []byte(strings.Repeat("x", 1500) + strconv.Itoa(i))})
	}
	src := openSource(t, b.config("topics", topic, "fetch.partition.max.bytes", "1024"), 0, 1, nil)
	lr := src.(api.LagReporter)
	if lag := lr.Lag(); lag != nil {
		t.Errorf("lag before the first fetch = %v, want nil", lag)
	}
	recs := readN(t, src, 1, 10*time.Second)
	if lag := lr.Lag()[topic+"-0"]; lag != 10-int64(len(recs)) {
		t.Errorf("lag after %d of 10 records = %d, want %d", len(recs), lag, 10-len(recs))
	}
	readN(t, src, 10-len(recs), 10*time.Second)
	if lag := lr.Lag()[topic+"-0"]; lag != 0 {
		t.Errorf("lag after all records = %d", lag)
	}
}

// TestSourceBadInput: what a user gets wrong is named.
func TestSourceBadInput(t *testing.T) {
	t.Parallel()
	t.Run("unknown broker retries with a clear error", func(t *testing.T) {
		t.Parallel()
		src, err := newSource(map[string]string{"brokers": "ferry-no-such-host.invalid:9092", "topics": "t", "dial.timeout": "500ms"}, 0, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = src.Open(ctx)
		if err == nil || api.IsFatal(err) || !api.IsRetryable(err) || !strings.Contains(err.Error(), "ferry-no-such-host.invalid:9092") {
			t.Fatalf("Open = %v, want a retryable error naming the broker", err)
		}
		_ = src.Close(context.Background())
	})
	t.Run("missing topic fails naming it", func(t *testing.T) {
		t.Parallel()
		b := newBed(t)
		src, err := newSource(b.config("topics", "ferry-src-no-such-topic"), 0, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close(context.Background())
		err = src.Open(context.Background())
		if !api.IsFatal(err) || !strings.Contains(err.Error(), `"ferry-src-no-such-topic" does not exist`) {
			t.Fatalf("Open = %v, want a fatal error naming the topic", err)
		}
	})
	t.Run("stored position past the end fails", func(t *testing.T) {
		t.Parallel()
		b := newBed(t)
		topic := b.topic(t, "pastend", 1)
		b.values(t, topic, 0, 0, 5)
		src := openSource(t, b.config("topics", topic), 0, 1, map[string]api.Position{topic + "-0": api.Position("1000")})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := src.Read(ctx)
		if !api.IsFatal(err) || !strings.Contains(err.Error(), "past the end") || !strings.Contains(err.Error(), topic+"-0") {
			t.Fatalf("Read = %v, want a fatal error naming the partition", err)
		}
	})
	t.Run("corrupt stored position fails", func(t *testing.T) {
		t.Parallel()
		_, err := newSource(map[string]string{"brokers": "h:1", "topics": "t"}, 0, 1, map[string]api.Position{"t-0": api.Position("x")})
		if !api.IsFatal(err) || !strings.Contains(err.Error(), "t-0") {
			t.Fatalf("New = %v, want a fatal error naming the partition", err)
		}
	})
}

// TestSourceConfig: hostile and conflicting settings are refused, naming
// the field (the worker answers 400 with it).
func TestSourceConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"brokers": "h:9092", "topics": "orders"}
	for _, tc := range []struct {
		name string
		kv   map[string]string
		want string // field; "" valid
	}{
		{"minimal", nil, ""},
		{"regex instead", map[string]string{"topics": "", "topics.regex": `orders\..*`}, ""},
		{"timestamp start", map[string]string{"start": "timestamp:1700000000000"}, ""},
		{"both topics and regex", map[string]string{"topics.regex": "o.*"}, "topics.regex"},
		{"neither", map[string]string{"topics": ""}, "topics"},
		{"bad regex", map[string]string{"topics": "", "topics.regex": "(("}, "topics.regex"},
		{"huge regex", map[string]string{"topics": "", "topics.regex": strings.Repeat("a", 2000)}, "topics.regex"},
		{"bad topic name", map[string]string{"topics": "orders,a b"}, "topics"},
		{"long topic name", map[string]string{"topics": strings.Repeat("t", 250)}, "topics"},
		{"too many topics", map[string]string{"topics": strings.Repeat("t,", 1001) + "t"}, "topics"},
		{"unknown start", map[string]string{"start": "beginning"}, "start"},
		{"negative timestamp", map[string]string{"start": "timestamp:-1"}, "start"},
		{"far timestamp", map[string]string{"start": "timestamp:99999999999999999"}, "start"},
		{"huge group id", map[string]string{"group.id": strings.Repeat("g", 256)}, "group.id"},
		{"tiny fetch", map[string]string{"fetch.max.bytes": "10"}, "fetch.max.bytes"},
		{"huge fetch", map[string]string{"fetch.max.bytes": "1099511627776"}, "fetch.max.bytes"},
		{"min above max", map[string]string{"fetch.min.bytes": "2097152", "fetch.max.bytes": "1048576", "fetch.partition.max.bytes": "1024"}, "fetch.min.bytes"},
		{"partition above max", map[string]string{"fetch.partition.max.bytes": "33554432"}, "fetch.partition.max.bytes"},
		{"long wait", map[string]string{"fetch.max.wait": "1h"}, "fetch.max.wait"},
		{"zero batch", map[string]string{"batch.size": "0"}, "batch.size"},
		{"fast refresh", map[string]string{"metadata.refresh.interval": "1ms"}, "metadata.refresh.interval"},
		{"slow group commits", map[string]string{"group.commit.interval": "48h"}, "group.commit.interval"},
		{"sasl without password", map[string]string{"sasl.mechanism": "PLAIN", "sasl.username": "u"}, "sasl.password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := map[string]string{}
			for k, v := range base {
				raw[k] = v
			}
			for k, v := range tc.kv {
				raw[k] = v
			}
			c, err := kafka.Source.Spec.Parse(raw)
			if err == nil {
				err = kafka.Source.Validate(c)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ve *api.ValidationError
			if !errors.As(err, &ve) || !slices.ContainsFunc(ve.Fields, func(f api.FieldError) bool { return f.Field == tc.want }) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func mapsEqual(a, b map[int]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestSourceSpecDoc(t *testing.T) {
	t.Parallel()
	apitest.CheckSpecDoc(t, "source.go", kafka.Source.Spec)
}

// TestSourceFailedOpenLeaksNothing: the engine never closes a source whose
// Open failed (it retries Open, then gives up), so a failed Open must not
// leave the client's goroutines behind. Not parallel: goleak sees every
// goroutine.
func TestSourceFailedOpenLeaksNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src, err := newSource(map[string]string{"brokers": "127.0.0.1:1", "topics": "t", "dial.timeout": "200ms"}, 0, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		if err := src.Open(ctx); err == nil || !api.IsRetryable(err) {
			t.Fatalf("Open = %v, want a retryable error", err)
		}
	}
}

// TestSourceStopsItsFetchAhead: the source fetches ahead of Read on
// goroutines of its own. A Read whose context ends returns at once though
// those fetches wait on the broker (fetch.max.wait 20 s on a quiet topic),
// records produced then are read within seconds (a fetch request of the
// other, quiet partition does not hold them up), in order, and Close stops
// the fetch promptly and leaves no goroutine of its own behind (kafka-go's
// connection goroutine still reads the broker's answer to the abandoned
// request, up to fetch.max.wait later, then ends). Not parallel: goleak
// sees every goroutine.
func TestSourceStopsItsFetchAhead(t *testing.T) {
	b := newBed(t)
	topic := b.topic(t, "ahead", 2)
	b.values(t, topic, 0, 0, 5)
	baseline := goleak.IgnoreCurrent()
	src, err := newSource(b.config("topics", topic, "fetch.max.wait", "20s"), 0, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for err := src.Open(ctx); err != nil; err = src.Open(ctx) {
		if !api.IsRetryable(err) || ctx.Err() != nil {
			t.Fatalf("Open: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := readN(t, src, 5, 30*time.Second)
	// The next fetch is under way and waits on the broker.
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	if recs, err := src.Read(short); !errors.Is(err, context.DeadlineExceeded) || len(recs) > 0 {
		t.Fatalf("Read on a quiet topic = %d records, %v; want the context's deadline", len(recs), err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Read returned %v after its context ended", el)
	}
	b.values(t, topic, 0, 5, 3)
	got = append(got, readN(t, src, 3, 10*time.Second)...)
	if offs := offsetsByPartition(t, got)[topic+"-0"]; !slices.Equal(offs, seq(0, 8)) {
		t.Fatalf("offsets %v, want 0..7", offs)
	}
	start = time.Now()
	if err := src.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("Close took %v with a fetch waiting on the broker", el)
	}
	goleak.VerifyNone(t, baseline, goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*conn).run"))
}
