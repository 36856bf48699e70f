package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	rmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/transform/template"
)

// Sink is the rocketmq sink plugin.
var Sink = api.SinkPlugin{
	Name:     "rocketmq",
	Summary:  "Sends events to Apache RocketMQ topics, ordered per key, as structured CloudEvents, as data with CloudEvents properties (binary mode) or as data alone.",
	Spec:     sinkSpec,
	New:      newSink,
	Validate: validate,
}

// The parameters that may come from each event.
var (
	topicParam = template.ParamSpec{Name: "topic", Required: true,
		Description: "Destination topic."}
	tagParam = template.ParamSpec{Name: "tag",
		Description: "Message tag (TAGS), for consumers' tag filters; none when unset or empty."}
	keysParam = template.ParamSpec{Name: "keys",
		Description: "Message keys (KEYS, space-separated) for lookups; default the record key. The event id is always added."}
)

const defaultMaxMessageBytes = 4 << 20 // the broker's default maxMessageSize

var sinkSpec = func() api.Spec {
	s := api.Spec{
		{Name: "nameservers", Type: api.TypeList, Required: true, Check: checkAddrs,
			Description: "Name server addresses, host:port, comma-separated."},
	}
	s = append(s, topicParam.Fields()...)
	s = append(s, tagParam.Fields()...)
	s = append(s, keysParam.Fields()...)
	return append(s, api.Spec{
		kit.BodyField,
		{Name: "ordered", Type: api.TypeBool, Default: "true",
			Description: "Send all records of one key to one queue (hash of the record key), in order. When false, or for records without a key, queues are used in turn."},
		{Name: "message.type", Type: api.TypeString, Default: "NORMAL", Enum: []string{"NORMAL", "FIFO"},
			Description: "The topic's RocketMQ 5 message type. FIFO: each message also carries its message group (__SHARDINGKEY: the key its queue is chosen by, else its keys), which 5.x brokers and proxies read on FIFO topics; needs ordered=true. Keep NORMAL for other topics: a 5.x proxy that checks message types refuses FIFO messages on them."},
		{Name: "producer.group", Type: api.TypeString,
			Description: "Producer group; default ferry-<connector>."},
		{Name: "access.key", Type: api.TypeString, Secret: true,
			Description: "ACL access key; set with secret.key."},
		{Name: "secret.key", Type: api.TypeString, Secret: true,
			Description: "ACL secret key; set with access.key."},
		{Name: "send.timeout", Type: api.TypeDuration, Default: "3s",
			Description: "Time one send (one batch message) may take before it counts as failed."},
		{Name: "retries", Type: api.TypeInt, Default: "2", Check: api.Range(0, 100),
			Description: "Immediate resends of a failed send inside one write, before the engine's backoff retries take over."},
		{Name: "batch.size", Type: api.TypeInt, Default: "256", Check: api.Range(1, 100000),
			Description: "Most messages in one batch message; a batch goes to one queue."},
		{Name: "max.message.bytes", Type: api.TypeInt, Default: strconv.Itoa(defaultMaxMessageBytes), Check: api.Range(1024, 1<<30),
			Description: "Largest message, and largest batch message, in bytes (the broker's maxMessageSize). A larger record is rejected alone."},
		{Name: "send.parallelism", Type: api.TypeInt, Default: "8", Check: api.Range(1, 1024),
			Description: "Queues sent to at once; messages of one queue are always sent one batch after another."},
		{Name: "instance.name", Type: api.TypeString,
			Description: "RocketMQ client instance name; default unique per task. Sinks sharing a name in one process share one client and must use different producer groups."},
	}...)
}()

// checkAddrs accepts a comma-separated list of host:port.
func checkAddrs(v string) error {
	for _, a := range api.NewConfig(map[string]string{"v": v}).List("v") {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return fmt.Errorf("%q is not host:port", a)
		}
	}
	return nil
}

// validate checks what spans several fields: each parameter's form, and
// the credentials as a pair.
func validate(c api.Config) error {
	var fields []api.FieldError
	for _, p := range []template.ParamSpec{topicParam, tagParam, keysParam} {
		compiled, err := p.Compile(c)
		if err != nil {
			var ve *api.ValidationError
			if !errors.As(err, &ve) {
				return err
			}
			fields = append(fields, ve.Fields...)
			continue
		}
		if v, ok := compiled.Constant(); ok && p.Name == topicParam.Name {
			if err := checkTopic(v); err != nil {
				field := p.Name
				if !c.Has(p.Name) {
					field = p.Name + ".value"
				}
				fields = append(fields, api.FieldError{Field: field, Message: err.Error()})
			}
		}
	}
	if c.String("message.type") == "FIFO" && !c.Bool("ordered") {
		fields = append(fields, api.FieldError{Field: "message.type", Message: "FIFO needs ordered=true: a FIFO topic keeps order per message group only within a queue"})
	}
	if (c.String("access.key") == "") != (c.String("secret.key") == "") {
		fields = append(fields, api.FieldError{Field: "secret.key", Message: "set access.key and secret.key together"})
	}
	if fields != nil {
		return &api.ValidationError{Fields: fields}
	}
	return nil
}

// instanceSeq makes default instance names unique within the process:
// rocketmq-client-go shares one client per IP@instance, and two producers
// of one group cannot share a client.
var instanceSeq atomic.Int64

type sink struct {
	log         *slog.Logger
	nameservers []string
	group       string
	instance    string
	creds       primitive.Credentials
	timeout     time.Duration
	retries     int
	batchSize   int
	maxBytes    int
	parallelism int

	enc  encoder
	sel  *selector
	p    rmq.Producer
	next uint64 // round-robin cursor for messages without a sharding key

	// wire holds a Write's frames in send order, each queue's together,
	// so that every batch message's body is a slice of it. msgs and
	// grouped hold its messages, in record order and in plan's groups.
	wire          []byte
	msgs, grouped []message

	// resume marks the records a Write stored, and skips on the engine's
	// retry of a failed Write what it stored.
	resume kit.Resume

	// syncs maps source positions to where the records landed
	// (api.PositionMapper).
	syncs *syncMap
}

func newSink(tc api.TaskConfig) (api.Sink, error) {
	if err := validate(tc.Config); err != nil {
		return nil, err
	}
	c := tc.Config
	topic, _ := topicParam.Compile(c)
	tag, _ := tagParam.Compile(c)
	keys, _ := keysParam.Compile(c)
	s := &sink{
		log:         tc.Logger,
		nameservers: c.List("nameservers"),
		group:       c.String("producer.group"),
		instance:    c.String("instance.name"),
		creds:       primitive.Credentials{AccessKey: c.String("access.key"), SecretKey: c.String("secret.key")},
		timeout:     c.Duration("send.timeout"),
		retries:     c.Int("retries"),
		batchSize:   c.Int("batch.size"),
		maxBytes:    c.Int("max.message.bytes"),
		parallelism: c.Int("send.parallelism"),
		enc: encoder{topic: topic, tag: tag, keys: keys, body: kit.BodyOf(c),
			ordered: c.Bool("ordered"), fifo: c.String("message.type") == "FIFO", maxBytes: c.Int("max.message.bytes")},
		sel:   newSelector(),
		syncs: newSyncMap(tc.Committed),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.group == "" {
		s.group = "ferry-" + tc.Connector
	}
	if s.instance == "" {
		s.instance = fmt.Sprintf("ferry-%s-%d-%d-%d", tc.Connector, tc.Task, os.Getpid(), instanceSeq.Add(1))
	}
	if s.timeout <= 0 {
		s.timeout = 3 * time.Second
	}
	return s, nil
}

// Open checks that a name server answers and starts the producer. The
// producer itself connects lazily, so without the check a wrong address
// would surface only as failing writes.
func (s *sink) Open(ctx context.Context) error {
	routeClientLogs()
	if err := reachable(ctx, s.nameservers); err != nil {
		return api.Retryable(fmt.Errorf("rocketmq sink: %w", err))
	}
	opts := []producer.Option{
		producer.WithNsResolver(primitive.NewPassthroughResolver(s.nameservers)),
		producer.WithGroupName(s.group),
		producer.WithInstanceName(s.instance),
		producer.WithQueueSelector(s.sel),
		producer.WithRetry(s.retries),
		producer.WithSendMsgTimeout(s.timeout),
	}
	if !s.creds.IsEmpty() {
		opts = append(opts, producer.WithCredentials(s.creds))
	}
	p, err := rmq.NewProducer(opts...)
	if err != nil {
		return fmt.Errorf("rocketmq sink: new producer: %w", err)
	}
	if err := p.Start(); err != nil {
		_ = p.Shutdown()
		return api.Fatal(fmt.Errorf("rocketmq sink: start producer %s (group %s): %w", s.instance, s.group, err))
	}
	s.p = p
	return nil
}

// reachable dials the name servers until one accepts.
func reachable(ctx context.Context, addrs []string) error {
	var errs []error
	for _, a := range addrs {
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		c, err := new(net.Dialer).DialContext(dctx, "tcp", a)
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("%w: %w", errNoNameServer, errors.Join(errs...))
}

// Write sends every record before it returns. Messages of one queue go
// one batch after another, each after the previous one was stored, so
// records of one key arrive in the order given; different queues are sent
// to at once. A transient failure stops its queue and makes Write return
// a retryable error. The engine then writes the same batch again; the
// events this Write stored are skipped then (by source and id), so a retry
// neither repeats nor reorders them. Only a send that failed after the
// broker stored it (a timeout) repeats messages: at-least-once.
func (s *sink) Write(ctx context.Context, records []api.Record) error {
	return s.resume.Write(records, func() error { return s.write(ctx, records) })
}

func (s *sink) write(ctx context.Context, records []api.Record) error {
	var bad api.RecordErrors
	s.enc.reset()
	defer s.release()
	msgs := s.msgs[:0]
	defer func() { s.msgs = msgs[:0] }()
	for i := range records {
		if s.resume.Skip(records, i) {
			continue
		}
		m, err := s.enc.encode(i, &records[i])
		if err != nil {
			bad = append(bad, kit.Reject(i, fmt.Errorf("rocketmq sink: %w", err)))
			continue
		}
		m.part = records[i].Partition
		m.next, m.mapped = parseNext(records[i].Position)
		msgs = append(msgs, m)
	}

	// The first message to a topic not seen yet goes alone: its send
	// teaches the selector the topic's queues, by which the rest are
	// grouped.
	for i := 0; i < len(msgs); i++ {
		m := &msgs[i]
		if s.sel.queues(m.topic) != nil {
			continue
		}
		rejected, err := s.send(ctx, []message{*m})
		if err != nil {
			return kit.WriteResult(ctx, nil, err)
		}
		bad = append(bad, rejected...)
		m.sent = true // or rejected
	}

	// Each queue's messages go in order on one goroutine; queues at once.
	// The position map learns every queue the records go to before any
	// of the sends start.
	groups := s.plan(msgs)
	s.layout(groups)
	for _, g := range groups {
		if q := g[0].queue; q != nil {
			s.syncs.sending(targetName(q), g)
		}
	}
	rejected, err := kit.RunParallel(ctx, groups, s.parallelism, s.sendGroup)
	return kit.WriteResult(ctx, append(bad, rejected...), err)
}

// plan groups the unsent messages by topic and queue, keeping their order
// within each group. The groups share one array, sized first.
func (s *sink) plan(msgs []message) [][]message {
	type gk struct {
		topic string
		queue int
	}
	at := map[gk]int{}
	var sizes []int
	var (
		topic string
		qs    []*primitive.MessageQueue
	)
	n := 0
	for i := range msgs {
		m := &msgs[i]
		if m.sent {
			continue
		}
		if m.topic != topic { // never empty
			topic, qs = m.topic, s.sel.queues(m.topic)
		}
		var qi int
		switch {
		case len(qs) == 0:
			// Not routed yet (cannot happen after a successful send to
			// the topic): one group sent message by message, so the
			// selector places each by its own sharding key.
			qi = -1
		case m.shard != "":
			qi = queueIndex(m.shard, len(qs))
		default:
			qi = int(s.next % uint64(len(qs)))
			s.next++
		}
		if qi >= 0 {
			m.queue = qs[qi]
		}
		k := gk{m.topic, qi}
		g, ok := at[k]
		if !ok {
			g = len(sizes)
			at[k] = g
			sizes = append(sizes, 0)
		}
		sizes[g]++
		m.group = g
		n++
	}
	if cap(s.grouped) < n {
		s.grouped = make([]message, n)
	}
	all := s.grouped[:n]
	groups := make([][]message, len(sizes))
	for g, size := range sizes {
		groups[g], all = all[:0:size], all[size:]
	}
	for _, m := range msgs {
		if !m.sent {
			groups[m.group] = append(groups[m.group], m)
		}
	}
	return groups
}

// layout copies the groups' frames into the sink's wire buffer, each
// group's in order and together, and points the messages at them there.
func (s *sink) layout(groups [][]message) {
	n := 0
	for _, g := range groups {
		for _, m := range g {
			n += len(m.frame)
		}
	}
	if cap(s.wire) < n {
		s.wire = make([]byte, 0, n)
	}
	w := s.wire[:0]
	for _, g := range groups {
		for i := range g {
			at := len(w)
			w = append(w, g[i].frame...)
			g[i].frame = w[at:] // its capacity runs on over the next frames (batchOf)
		}
	}
	s.wire = w[:0]
}

// release forgets a Write's frames once its sends have returned. It keeps
// the buffers for the next Write unless they grew past what an engine
// batch of ordinary records needs.
func (s *sink) release() {
	s.enc.reset()
	if cap(s.wire) > maxRetainedBytes {
		s.wire = nil
	}
	if cap(s.msgs) > maxRetainedMessages || cap(s.grouped) > maxRetainedMessages {
		s.msgs, s.grouped = nil, nil
	}
}

// maxRetainedMessages bounds the messages a sink keeps room for between
// Writes (about 120 bytes each).
const maxRetainedMessages = 16384

// sendGroup sends one queue's messages in batches, in order, stopping at
// the first transient failure.
func (s *sink) sendGroup(ctx context.Context, msgs []message) (api.RecordErrors, error) {
	var bad api.RecordErrors
	for len(msgs) > 0 {
		n, bytes, limit := 0, 0, s.batchSize
		if msgs[0].queue == nil {
			limit = 1
		}
		for n < len(msgs) && n < limit && (n == 0 || bytes+len(msgs[n].frame) <= s.maxBytes) {
			bytes += len(msgs[n].frame)
			n++
		}
		rejected, err := s.send(ctx, msgs[:n])
		bad = append(bad, rejected...)
		if err != nil {
			return bad, err
		}
		msgs = msgs[n:]
	}
	return bad, nil
}

// send sends msgs (one queue, one topic) as one message or one batch.
// When the broker refuses a batch as illegal, the messages are resent one
// by one so that only the offending ones are rejected.
func (s *sink) send(ctx context.Context, msgs []message) (api.RecordErrors, error) {
	target := ""
	if q := msgs[0].queue; q != nil {
		target = targetName(q)
	}
	s.syncs.sending(target, msgs) // again for a known queue: write registered it
	res, err := s.p.SendSync(ctx, batchOf(msgs))
	if err == nil && res.MessageQueue != nil {
		s.syncs.done(target, msgs, true, targetName(res.MessageQueue), res.QueueOffset)
	} else {
		s.syncs.done(target, msgs, false, "", 0)
	}
	if err == nil {
		if res.Status != primitive.SendOK {
			// Stored on the master; only replication or the disk flush
			// lagged, which retrying would not improve.
			s.log.Debug("rocketmq: message stored with status", "status", res.Status, "queue", res.MessageQueue)
		}
		for _, m := range msgs {
			s.resume.Stored(m.index)
		}
		return nil, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if classify(err) != kit.RecordFault {
		return nil, fmt.Errorf("rocketmq sink: send %d message(s) to %s: %w", len(msgs), msgs[0].topic, err)
	}
	if len(msgs) == 1 {
		return api.RecordErrors{kit.Reject(msgs[0].index, fmt.Errorf("rocketmq sink: %w: %v", errRejected, err))}, nil
	}
	var bad api.RecordErrors
	for i := range msgs {
		rejected, err := s.send(ctx, msgs[i:i+1])
		bad = append(bad, rejected...)
		if err != nil {
			return bad, err
		}
	}
	return bad, nil
}

// batchOf returns the library's message for msgs: the message itself for
// one, else a batch message whose body is their frames, which layout put
// side by side. It is what the producer makes of several messages
// (producer.MarshalMessageBatch), without the producer re-encoding each
// message's properties from a map and growing a buffer message by
// message.
func batchOf(msgs []message) *primitive.Message {
	if len(msgs) == 1 {
		return msgs[0].single()
	}
	n := 0
	for _, m := range msgs {
		n += len(m.frame)
	}
	// The frames follow one another in the wire buffer, whose capacity a
	// frame's slice keeps: the first one's extended is the batch's body.
	if body, ok := adjoining(msgs, n); ok {
		return &primitive.Message{Topic: msgs[0].topic, Queue: msgs[0].queue, Body: body, Batch: true}
	}
	body := make([]byte, 0, n)
	for _, m := range msgs {
		body = append(body, m.frame...)
	}
	return &primitive.Message{Topic: msgs[0].topic, Queue: msgs[0].queue, Body: body, Batch: true}
}

// adjoining returns the n bytes of msgs' frames as one slice when each
// frame follows the one before it in memory.
func adjoining(msgs []message, n int) ([]byte, bool) {
	first := msgs[0].frame
	if cap(first) < n {
		return nil, false
	}
	all, at := first[:n], 0
	for _, m := range msgs {
		if &all[at] != &m.frame[0] {
			return nil, false
		}
		at += len(m.frame)
	}
	return all, true
}

// targetName names a queue as the position map's targets do, the way
// the rocketmq source names its partitions (queueName).
func targetName(q *primitive.MessageQueue) string {
	return queueName(q.Topic, q.BrokerName, q.QueueId)
}

// PositionMap implements api.PositionMapper: per source partition, the
// target queues its records were sent to, with sync points (see syncMap).
func (s *sink) PositionMap() []api.PartitionMap { return s.syncs.snapshot() }

var _ api.PositionMapper = (*sink)(nil)

// brokerCode finds the response code in the library's send errors
// ("CODE: 13, DESC: …").
var brokerCode = regexp.MustCompile(`CODE: (\d+)`)

// codeMessageIllegal is the broker's MESSAGE_ILLEGAL: the message itself
// is refused (too large, bad properties); sending it again cannot help.
const codeMessageIllegal = 13

// classify sorts a send error (kit.Triage): the broker's refusal of the
// message itself is the record's fault; everything else (unreachable
// broker or name server, timeouts, broker busy) is transient.
func classify(err error) kit.Class {
	if m := brokerCode.FindStringSubmatch(err.Error()); m != nil && m[1] == strconv.Itoa(codeMessageIllegal) {
		return kit.RecordFault
	}
	return kit.Transient
}

// Close shuts the producer down. Sends have all returned by now: Write
// does not return before its sends do.
func (s *sink) Close(ctx context.Context) error {
	if s.p == nil {
		return nil
	}
	err := s.p.Shutdown()
	s.p = nil
	if err != nil {
		return fmt.Errorf("rocketmq sink: shutdown: %w", err)
	}
	return nil
}
