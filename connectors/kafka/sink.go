package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// Sink is the kafka sink plugin.
//
// Its settings (under sink., or errors.deadletterqueue.sink. when it is
// the dead-letter sink; docs/kafka-sink.md is the guide):
//
//	field                              type       default     description
//	brokers                            list       required    Bootstrap brokers, host:port, comma-separated.
//	client.id                          string     -           Client id the brokers see (quotas, logs); default ferry-<connector>.
//	sasl.mechanism                     string     none        SASL mechanism; none for an unauthenticated listener. One of: none, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512.
//	sasl.username                      string     -           SASL user name.
//	sasl.password                      string     -           SASL password; use ${env:…}, ${file:…} or ${dir:…}. Secret.
//	tls.enabled                        boolean    false       Connect with TLS.
//	tls.ca.file                        string     -           PEM CA bundle that verifies the brokers (default: the system's roots).
//	tls.cert.file                      string     -           PEM client certificate, for brokers that require one (with tls.key.file).
//	tls.key.file                       string     -           PEM key of tls.cert.file.
//	tls.insecure.skip.verify           boolean    false       Do not verify the brokers' certificates (testing only).
//	dial.timeout                       duration   10s         Time to connect to one broker.
//	topic[.form|.value|.template]      parameter  required    Destination topic. A constant; to take it from the event use topic.form instead. Required: set either this key or topic.form.
//	key[.form|.value|.template]        parameter  -           Record key (bytes of the rendered text); default the record's key (a CDC source's primary key). A constant; to take it from the event use key.form instead.
//	headers.<name>                     string     -           headers.<name>=<constant> adds header <name> to every record; headers.<name>.form, .value and .template take it from the event like topic.form. At most 64 headers; names of at most 255 characters from [A-Za-z0-9._:-], not ending in .form, .value or .template; with body=structured or binary not content-type nor ce_*.
//	body                               string     structured  structured: the CloudEvent as JSON (content type application/cloudevents+json); binary: the event's data as the body, every attribute and extension as a header (the CloudEvents binding's binary mode); data: the event's data alone, no attributes. One of: structured, binary, data.
//	partition[.form|.value|.template]  parameter  -           With partitioner=manual: the partition, a decimal number below the topic's partition count. A constant; to take it from the event use partition.form instead.
//	acks                               string     all         Broker acknowledgements a write waits for: all (every in-sync replica), 1 (the leader), 0 (none: nothing is confirmed, failures are not seen). One of: all, 1, 0.
//	compression                        string     none        Compression of each produce request's record batch. One of: none, gzip, snappy, lz4, zstd.
//	partitioner                        string     hash        hash: murmur2 of the key modulo the partition count, as Kafka's Java producer, so a key keeps its partition and its order (records without a key go round-robin); round-robin: partitions in turn; manual: the partition parameter. One of: hash, round-robin, manual.
//	batch.size                         int        1000        Most records in one produce request (one partition's record batch); a count, not bytes as the Java producer's batch.size.
//	batch.bytes                        int        1048576     Most bytes (uncompressed) in one produce request; a larger record goes alone.
//	linger.ms                          int        0           Must be 0: each write sends at once what the engine gives it and returns after the acks; batch on the engine side with batch.size (the envelope key) instead.
//	max.message.bytes                  int        1048576     Largest record (key, value, headers, framing) the sink sends; a larger one is rejected alone (dead-letter sink or task failure). Keep it at or below the topic's max.message.bytes.
//	tombstones.on.delete               boolean    true        After a delete event (op=d in a Debezium-style envelope) with a key, also write a tombstone (the key, a null value) so that compacted topics drop the key.
//	topic.auto.create                  boolean    true        Ask the brokers to create a missing topic, as Kafka's producer does (they do only with auto.create.topics.enable=true). When false, a missing topic fails the task (a constant topic) or rejects the record (a topic from the event).
//	request.timeout                    duration   30s         Time one produce or metadata request may take before it counts as failed (and is retried by the engine).
//	send.parallelism                   int        16          Partitions written at once; one partition's requests always go one after another.
var Sink = api.SinkPlugin{
	Name:     "kafka",
	Summary:  "Writes events to Apache Kafka topics, in order per key, as structured CloudEvents, binary-mode CloudEvents (ce_* headers) or data alone; tombstones after deletes.",
	Spec:     sinkSpec,
	New:      newSink,
	Validate: validateSink,
}

var compressions = map[string]kafkago.Compression{
	"gzip": compress.Gzip, "snappy": compress.Snappy, "lz4": compress.Lz4, "zstd": compress.Zstd,
}

var acksOf = map[string]kafkago.RequiredAcks{"all": kafkago.RequireAll, "1": kafkago.RequireOne, "0": kafkago.RequireNone}

type sink struct {
	log         *slog.Logger
	connector   string
	conn        conn
	acks        kafkago.RequiredAcks
	compression kafkago.Compression
	partitioner string
	batchSize   int
	batchBytes  int
	parallelism int
	timeout     time.Duration
	autoCreate  bool

	enc    *encoder
	tr     *kafkago.Transport
	client *kafkago.Client
	topics *topics

	next     uint64           // round-robin cursor
	msgs     []message        // the current Write's messages, reused
	payloads []payload        // two per message (key, value), reused
	recs     []kafkago.Record // one per message, cut into plan's groups, reused
	// plan's reused state
	partOf map[topicPartition]int
	of     []int
	counts []int
	slots  []slot
	parts  []sendGroup
	stale  atomic.Bool       // a send saw a leader move: renew the transport's metadata
	names  map[string]string // topic names from events, interned

	// resume skips, on the engine's retry of a failed Write, what that
	// Write stored.
	resume kit.Resume
}

func newSink(tc api.TaskConfig) (api.Sink, error) {
	if err := validateSink(tc.Config); err != nil {
		return nil, err
	}
	c := tc.Config
	cn, err := parseConn(c, tc.Connector)
	if err != nil {
		return nil, err
	}
	enc, err := newEncoder(c)
	if err != nil {
		return nil, err
	}
	s := &sink{
		log:         tc.Logger,
		connector:   tc.Connector,
		conn:        cn,
		acks:        acksOf[c.String("acks")],
		compression: compressions[c.String("compression")],
		partitioner: c.String("partitioner"),
		batchSize:   c.Int("batch.size"),
		batchBytes:  c.Int("batch.bytes"),
		parallelism: c.Int("send.parallelism"),
		timeout:     c.Duration("request.timeout"),
		autoCreate:  c.Bool("topic.auto.create"),
		enc:         enc,
		names:       map[string]string{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// connect (re)creates the client and its transport: the transport keeps
// connections and the cluster's metadata.
func (s *sink) connect() {
	if s.tr != nil {
		s.tr.CloseIdleConnections()
	}
	s.tr = s.conn.transport()
	addr := kafkago.TCP(s.conn.brokers...)
	s.client = &kafkago.Client{Addr: addr, Transport: s.tr, Timeout: s.timeout}
	byName := map[string]*topicInfo{}
	if s.topics != nil {
		byName = s.topics.byName
	}
	s.topics = &topics{tr: s.tr, addr: addr, autoCreate: s.autoCreate, timeout: s.timeout, byName: byName, now: time.Now}
}

// Open connects and, for a constant topic, checks that it exists: a
// missing topic or refused credentials fail the task with what to fix;
// unreachable brokers are retried.
func (s *sink) Open(ctx context.Context) error {
	s.connect()
	s.topics.tick()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if t, ok := s.enc.topic.Constant(); ok {
		if _, err := s.topics.lookup(ctx, t); err != nil {
			return s.openError(ctx, err)
		}
		return nil
	}
	// Topics come from the events: check only that the cluster answers.
	if _, err := s.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{}}); err != nil {
		return s.openError(ctx, err)
	}
	return nil
}

func (s *sink) openError(ctx context.Context, err error) error {
	err = fmt.Errorf("kafka sink: brokers %v: %w", s.conn.brokers, explain(err))
	if errors.Is(err, errTopicMissing) {
		return api.Fatal(err)
	}
	if ctx.Err() != nil {
		return api.Retryable(fmt.Errorf("%w (no answer within request.timeout; are the brokers reachable?)", err))
	}
	return triage.Mark(err)
}

// payload is a record's key or value as kafka-go reads it; the sink keeps
// them in a reused slice instead of allocating one per record.
type payload struct{ bytes.Reader }

func (*payload) Close() error { return nil }

// Write sends every record and returns after the brokers acknowledged
// them (acks). Records are grouped by topic and partition; a partition's
// records go in order, one produce request after another, partitions at
// once (send.parallelism). A partition stops at its first failure that is
// not the record's own fault: that record and the partition's later ones
// are not stored, and Write returns a retryable error. The engine then
// writes the same batch again, and what this Write stored is skipped
// (kit.Resume), so a retry neither repeats nor reorders a key's records.
// A record the broker refuses for itself is rejected alone
// (api.RecordErrors) and its partition goes on.
func (s *sink) Write(ctx context.Context, records []api.Record) error {
	err := s.resume.Write(records, func() error { return s.write(ctx, records) })
	var re *api.RecordErrors
	// After a failure a request may still be read by the client in the
	// background: let the buffers go rather than reuse them.
	drop := err != nil && !errors.As(err, &re)
	s.enc.reset(drop)
	if drop {
		s.payloads, s.recs = nil, nil
	}
	if s.stale.Swap(false) {
		clear(s.topics.byName)
		s.connect()
	}
	return err
}

func (s *sink) write(ctx context.Context, records []api.Record) error {
	var bad api.RecordErrors
	s.enc.reset(false)
	s.topics.tick()
	msgs := s.msgs[:0]
	for i := range records {
		if s.resume.Skip(records, i) {
			continue
		}
		var err error
		msgs, err = s.place(ctx, msgs, i, &records[i])
		if err == nil {
			continue
		}
		if errors.Is(err, errRecord) {
			bad = append(bad, kit.Reject(i, fmt.Errorf("kafka sink: %w", err)))
			continue
		}
		s.msgs = msgs[:0]
		return kit.WriteResult(ctx, nil, err)
	}
	s.msgs = msgs
	if cap(s.payloads) < 2*len(msgs) {
		s.payloads = make([]payload, 2*len(msgs))
	}
	s.payloads = s.payloads[:2*len(msgs)]
	rejected, err := kit.RunParallel(ctx, s.plan(msgs), s.parallelism, s.sendPartition)
	return kit.WriteResult(ctx, append(bad, rejected...), err)
}

// errRecord marks an encoding or routing error that is the record's own
// fault (within the sink; never returned).
var errRecord = errors.New("record")

type recordError struct{ err error }

func (e recordError) Error() string   { return e.err.Error() }
func (e recordError) Unwrap() []error { return []error{e.err, errRecord} }

func asRecordError(err error) error { return recordError{err} }

// place encodes record i and chooses its partition. Errors wrapping
// errRecord are the record's fault; others (metadata) fail the Write.
func (s *sink) place(ctx context.Context, msgs []message, i int, r *api.Record) ([]message, error) {
	topic, constant := s.enc.topic.Constant()
	if !constant {
		b, err := s.enc.topicOf(&r.Event)
		if err != nil {
			return msgs, asRecordError(err)
		}
		topic = s.intern(b)
	}
	n, err := s.topics.lookup(ctx, topic)
	missing := errors.Is(err, errTopicMissing)
	switch {
	case missing && constant:
		return msgs, api.Fatal(fmt.Errorf("kafka sink: %w", err))
	case missing:
		return msgs, asRecordError(err)
	case err != nil:
		return msgs, triage.Mark(fmt.Errorf("kafka sink: %w", err))
	}
	start := len(msgs)
	msgs, err = s.enc.encode(msgs, i, r, topic)
	if err != nil {
		return msgs[:start], asRecordError(err)
	}
	p := 0
	switch {
	case s.partitioner == "manual":
		if p, err = s.enc.partitionOf(&r.Event); err == nil && p >= n {
			err = fmt.Errorf("%w: %d, topic %s has %d partitions", errPartition, p, topic, n)
		}
		if err != nil {
			return msgs[:start], asRecordError(err)
		}
	case s.partitioner == "hash" && msgs[start].key != nil:
		p = hashPartition(msgs[start].key, n)
	default:
		p = int(s.next % uint64(n))
		s.next++
	}
	for j := start; j < len(msgs); j++ {
		msgs[j].partition = p
	}
	return msgs, nil
}

// intern returns the topic name as a string, allocating only for a
// topic not seen yet.
func (s *sink) intern(b []byte) string {
	if name, ok := s.names[string(b)]; ok {
		return name
	}
	if len(s.names) >= maxTopicCache {
		clear(s.names)
	}
	name := string(b)
	s.names[name] = name
	return name
}

// hashPartition is Kafka's default partitioner for keyed records:
// murmur2 of the key bytes, sign bit cleared, modulo the partition count
// (the hash of Kafka's Java producer and of kafka-go's Murmur2Balancer;
// FuzzHashPartition holds it to the latter).
func hashPartition(key []byte, n int) int {
	return int(murmur2(key)&0x7fffffff) % n
}

// murmur2 is the 32-bit MurmurHash2 with Kafka's seed.
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
	)
	h := uint32(seed) ^ uint32(len(data))
	i := 0
	for ; i+4 <= len(data); i += 4 {
		k := binary.LittleEndian.Uint32(data[i:])
		k *= m
		k ^= k >> 24
		k *= m
		h = h*m ^ k
	}
	switch len(data) - i {
	case 3:
		h ^= uint32(data[i+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[i+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[i])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// slot ties a message to its payload pair.
type slot struct {
	m    *message
	pair int
}

// sendGroup is one partition's messages of a Write, in order, and the region
// of the Write's record array its produce requests fill.
type sendGroup struct {
	slots []slot
	recs  []kafkago.Record
}

// topicPartition names a partition.
type topicPartition struct {
	topic     string
	partition int
}

// plan groups the messages by topic and partition, in order. The groups
// share the sink's reused arrays (slots, records), cut into one region
// per partition.
func (s *sink) plan(msgs []message) []sendGroup {
	if s.partOf == nil {
		s.partOf = make(map[topicPartition]int, 16)
	}
	clear(s.partOf)
	of := slices.Grow(s.of[:0], len(msgs))[:len(msgs)] // each message's group
	counts := s.counts[:0]
	for i := range msgs {
		k := topicPartition{msgs[i].topic, msgs[i].partition}
		g, ok := s.partOf[k]
		if !ok {
			g = len(counts)
			s.partOf[k] = g
			counts = append(counts, 0)
		}
		of[i] = g
		counts[g]++
	}
	slots := slices.Grow(s.slots[:0], len(msgs))[:len(msgs)]
	if cap(s.recs) < len(msgs) {
		s.recs = make([]kafkago.Record, len(msgs))
	}
	parts := slices.Grow(s.parts[:0], len(counts))[:len(counts)]
	at := 0
	for g, n := range counts {
		parts[g] = sendGroup{slots: slots[at : at : at+n], recs: s.recs[at : at+n : at+n]}
		at += n
	}
	for i, g := range of {
		parts[g].slots = append(parts[g].slots, slot{&msgs[i], 2 * i})
	}
	s.of, s.counts, s.slots, s.parts = of, counts, slots, parts
	return parts
}

// sendPartition sends one partition's messages in order, batch.size and
// batch.bytes at a time, and stops at the first failure that is not a
// record's own fault.
func (s *sink) sendPartition(ctx context.Context, p sendGroup) (api.RecordErrors, error) {
	var bad api.RecordErrors
	group, recs := p.slots, p.recs
	for len(group) > 0 {
		n, size := 0, batchOverhead
		for n < len(group) && n < s.batchSize && (n == 0 || size+group[n].m.size <= s.batchBytes) {
			size += group[n].m.size
			n++
		}
		rejected, err := s.send(ctx, group[:n], recs[:n])
		bad = append(bad, rejected...)
		if err != nil {
			return bad, err
		}
		group, recs = group[n:], recs[n:]
	}
	return bad, nil
}

// send sends one produce request. A batch the broker refuses because of
// its records is split: the records it names (or, when it names none,
// each half in turn) are resent in order, so only the offending records
// are rejected. Nothing of a refused batch was stored (Kafka appends a
// record batch whole or not at all). recs, as long as group, holds the
// request's records; a resend reuses it, as the refused request was
// written whole (the broker answered it).
func (s *sink) send(ctx context.Context, group []slot, recs []kafkago.Record) (api.RecordErrors, error) {
	m0 := group[0].m
	for i, sl := range group {
		m := sl.m
		recs[i] = kafkago.Record{Time: m.time, Headers: m.headers}
		if m.key != nil {
			p := &s.payloads[sl.pair]
			p.Reset(m.key)
			recs[i].Key = p
		}
		if m.value != nil {
			p := &s.payloads[sl.pair+1]
			p.Reset(m.value)
			recs[i].Value = p
		}
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	res, err := s.client.Produce(rctx, &kafkago.ProduceRequest{
		Topic: m0.topic, Partition: m0.partition, RequiredAcks: s.acks,
		Records: &recordList{recs: recs}, Compression: s.compression,
	})
	cancel()
	where := func() string {
		return fmt.Sprintf("kafka sink: produce %d record(s) to %s/%d", len(group), m0.topic, m0.partition)
	}
	if err == nil && res != nil {
		err = res.Error
	}
	if err == nil {
		for _, sl := range group {
			if sl.m.last {
				s.resume.Stored(sl.m.index)
			}
		}
		if res != nil && res.Throttle > 0 {
			// The broker asks clients over their quota to wait.
			select {
			case <-ctx.Done():
			case <-time.After(min(res.Throttle, 30*time.Second)):
			}
		}
		return nil, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	switch classify(err) {
	case kit.Fatal:
		return nil, api.Fatal(fmt.Errorf("%s: %w", where(), explain(err)))
	case kit.Transient:
		if leaderMoved(err) {
			s.stale.Store(true)
		}
		return nil, fmt.Errorf("%s: %w", where(), err)
	}
	// The records' fault.
	if res != nil && len(res.RecordErrors) > 0 {
		var bad api.RecordErrors
		var rest []slot
		for i, sl := range group {
			if e, ok := res.RecordErrors[i]; ok {
				bad = append(bad, kit.Reject(sl.m.index, fmt.Errorf("kafka sink: topic %s partition %d refused the record: %w: %v", m0.topic, m0.partition, err, e)))
				continue
			}
			rest = append(rest, sl)
		}
		if len(rest) > 0 && len(rest) < len(group) {
			rejected, err := s.send(ctx, rest, recs[:len(rest)])
			return append(bad, rejected...), err
		}
		if len(rest) == 0 {
			return bad, nil
		}
	}
	if len(group) == 1 {
		return api.RecordErrors{kit.Reject(m0.index, fmt.Errorf("kafka sink: topic %s partition %d refused the record: %w", m0.topic, m0.partition, err))}, nil
	}
	half := len(group) / 2
	// A record and its tombstone stay together.
	if !group[half-1].m.last {
		half++
	}
	if half >= len(group) {
		half = len(group) / 2
	}
	bad, err := s.send(ctx, group[:half], recs[:half])
	if err != nil {
		return bad, err
	}
	rejected, err := s.send(ctx, group[half:], recs[half:])
	return append(bad, rejected...), err
}

// recordList reads a request's records in place (kafka-go's
// NewRecordReader copies them first).
type recordList struct {
	recs []kafkago.Record
	next int
}

func (l *recordList) ReadRecord() (*kafkago.Record, error) {
	if l.next >= len(l.recs) {
		return nil, io.EOF
	}
	l.next++
	return &l.recs[l.next-1], nil
}

// leaderMoved reports errors after which the transport's view of the
// cluster is out of date; kafka-go refreshes it only every 30 s.
func leaderMoved(err error) bool {
	var ke kafkago.Error
	if !errors.As(err, &ke) {
		return false
	}
	switch ke {
	case kafkago.NotLeaderForPartition, kafkago.LeaderNotAvailable, kafkago.UnknownTopicOrPartition,
		kafkago.BrokerNotAvailable, kafkago.ReplicaNotAvailable, kafkago.NotEnoughReplicas:
		return true
	}
	return false
}

// explain adds what to fix to the fatal errors a user meets first.
func explain(err error) error {
	var ke kafkago.Error
	if !errors.As(err, &ke) {
		return err
	}
	switch ke {
	case kafkago.SASLAuthenticationFailed:
		return fmt.Errorf("%w (check sasl.mechanism, sasl.username and sasl.password)", err)
	case kafkago.TopicAuthorizationFailed, kafkago.ClusterAuthorizationFailed:
		return fmt.Errorf("%w (grant the user WRITE and DESCRIBE on the topic)", err)
	}
	return err
}

// Close releases the connections. Writes have all returned by now.
func (s *sink) Close(context.Context) error {
	if s.tr != nil {
		s.tr.CloseIdleConnections()
		s.tr = nil
	}
	return nil
}
