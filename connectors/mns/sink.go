package mns

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/connectors/kit/alicloud"
	"github.com/ferryhq/ferry/transform/template"
)

// Sink is the mns sink plugin.
var Sink = api.SinkPlugin{
	Name:     "mns",
	Summary:  "Sends events to Alibaba Cloud MNS queues with BatchSendMessage, or publishes them to MNS topics, as structured CloudEvents, as data or as a template's text, base64-encoded by default.",
	Spec:     sinkSpec,
	New:      newSink,
	Validate: validate,
}

// MNS's bounds on what one call may carry.
const (
	maxBatch        = 16       // messages per BatchSendMessage
	maxBatchBytes   = 64 << 10 // bytes of message bodies per BatchSendMessage
	maxMessageBytes = 64 << 10 // one message body, as sent
	maxDelaySeconds = 604800   // 7 days
	minPriority     = 1
	maxPriority     = 16
)

// The parameters that may come from each event.
var (
	queueParam = template.ParamSpec{Name: "queue",
		Description: "Destination queue (BatchSendMessage). Exactly one of queue and topic is required."}
	topicParam = template.ParamSpec{Name: "topic",
		Description: "Destination topic (PublishMessage, one call a message), instead of queue; its subscriptions deliver the message."}
	bodyParam = template.ParamSpec{Name: "body",
		Description: "Message body rendered from the event (EventBridge's Body); overrides body."}
	delayParam = template.ParamSpec{Name: "delay.seconds",
		Description: "Seconds before the message becomes visible, 0 to 604800; default 0 (the SDK always sends a delay, so the queue's own DelaySeconds does not apply). Queues only."}
	priorityParam = template.ParamSpec{Name: "priority",
		Description: "Message priority, 1 (first) to 16; default 8. Queues only."}
	tagParam = template.ParamSpec{Name: "tag",
		Description: "Message tag (MessageTag), at most 16 bytes: a subscription with a FilterTag receives only the messages tagged with it. Topics only."}
)

// maxTagBytes is MNS's bound on a message's tag (and a subscription's
// FilterTag).
const maxTagBytes = 16

var sinkSpec = func() api.Spec {
	s := append(api.Spec{}, connFields...)
	s = append(s, queueParam.Fields()...)
	s = append(s, topicParam.Fields()...)
	body := kit.BodyField
	body.Description = "structured: the CloudEvent as JSON; data: the event's data alone. To render the body from the event instead, set body.form (with body.value, body.template). binary is not offered: queue messages carry no attributes."
	s = append(s, body)
	s = append(s, bodyParam.Fields()[1:]...) // body.form, body.value, body.template
	s = append(s, delayParam.Fields()...)
	s = append(s, priorityParam.Fields()...)
	s = append(s, tagParam.Fields()...)
	return append(s, api.Spec{
		{Name: "base64", Type: api.TypeBool, Default: "true",
			Description: "Send the body base64-encoded (as EventBridge's IsBase64Encode). With false, a body that XML cannot carry (not UTF-8, control characters) is rejected."},
		{Name: "batch.size", Type: api.TypeInt, Default: strconv.Itoa(maxBatch), Check: api.Range(1, maxBatch),
			Description: "Most messages in one BatchSendMessage call (MNS allows 16). Queues only: a topic takes one message a call."},
		{Name: "batch.bytes", Type: api.TypeInt, Default: strconv.Itoa(maxBatchBytes), Check: api.Range(1024, maxBatchBytes),
			Description: "Most bytes of message bodies in one call (MNS allows 65536). Queues only."},
		{Name: "send.parallelism", Type: api.TypeInt, Default: "4", Check: api.Range(1, 64),
			Description: "Calls in flight at once; the messages of one record key always go one call after another."},
	}...)
}()

// validate checks what spans several fields.
func validate(c api.Config) error {
	var fields []api.FieldError
	add := func(err error) {
		var ve *api.ValidationError
		if errors.As(err, &ve) {
			fields = append(fields, ve.Fields...)
		} else if err != nil {
			fields = append(fields, api.FieldError{Field: "queue", Message: err.Error()})
		}
	}
	dest, isTopic, errs := compileDest(c)
	fields = append(fields, errs...)
	if dest != nil {
		if v, ok := dest.Constant(); ok {
			if err := checkName(v, isTopic); err != nil {
				fields = append(fields, api.FieldError{Field: constField(c, dest.Name()), Message: err.Error()})
			}
		}
	}
	_, err := compileBody(c)
	add(err)
	for _, p := range []struct {
		spec   template.ParamSpec
		lo, hi int64
	}{{delayParam, 0, maxDelaySeconds}, {priorityParam, minPriority, maxPriority}} {
		compiled, err := p.spec.Compile(c)
		add(err)
		if err != nil {
			continue
		}
		if isTopic && compiled.IsSet() {
			fields = append(fields, api.FieldError{Field: p.spec.Name, Message: "applies to queues only; a topic's messages have no " + p.spec.Name})
			continue
		}
		if v, ok := compiled.Constant(); ok {
			if _, err := parseBounded(v, p.lo, p.hi); err != nil {
				fields = append(fields, api.FieldError{Field: constField(c, p.spec.Name), Message: err.Error()})
			}
		}
	}
	if tag, err := tagParam.Compile(c); err != nil {
		add(err)
	} else if tag.IsSet() && !isTopic && dest != nil {
		fields = append(fields, api.FieldError{Field: "tag", Message: "applies to topics only; a queue's messages have no tag"})
	} else if v, ok := tag.Constant(); ok {
		if err := checkTag(v); err != nil {
			fields = append(fields, api.FieldError{Field: constField(c, "tag"), Message: err.Error()})
		}
	}
	switch kit.BodyOf(c) {
	case kit.BodyBinary:
		fields = append(fields, api.FieldError{Field: "body", Message: "binary is not offered: MNS queue messages carry no attributes; use structured or data"})
	case kit.BodyData:
		if c.String("body.form") != "" {
			fields = append(fields, api.FieldError{Field: "body.form", Message: "set body=data or body.form, not both"})
		}
	}
	if fields != nil {
		return &api.ValidationError{Fields: fields}
	}
	return nil
}

// compileDest compiles the destination: queue or topic, exactly one.
func compileDest(c api.Config) (dest *template.Param, isTopic bool, errs []api.FieldError) {
	queue, qerr := queueParam.Compile(c)
	topic, terr := topicParam.Compile(c)
	for _, err := range []error{qerr, terr} {
		var ve *api.ValidationError
		if errors.As(err, &ve) {
			errs = append(errs, ve.Fields...)
		}
	}
	if errs != nil {
		return nil, false, errs
	}
	switch {
	case queue.IsSet() && topic.IsSet():
		return nil, false, []api.FieldError{{Field: "topic", Message: "set queue or topic, not both"}}
	case topic.IsSet():
		return topic, true, nil
	case queue.IsSet():
		return queue, false, nil
	}
	return nil, false, []api.FieldError{{Field: "queue", Message: "is required (or topic, to publish to an MNS topic)"}}
}

// constField names the key a constant parameter came from: p itself or,
// with p.form=CONSTANT, p.value.
func constField(c api.Config, p string) string {
	if c.Has(p) {
		return p
	}
	return p + ".value"
}

// compileBody compiles body.form & co. The shared body option occupies
// the key "body", so the parameter is compiled without it.
func compileBody(c api.Config) (*template.Param, error) {
	m := c.Map()
	delete(m, "body")
	return bodyParam.Compile(api.NewConfig(m))
}

// queueName is MNS's rule for queue and topic names alike.
var queueName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,119}$`)

// checkName checks a queue's name, or a topic's.
func checkName(v string, isTopic bool) error {
	if !queueName.MatchString(v) {
		err := errQueueName
		if isTopic {
			err = errTopicName
		}
		return fmt.Errorf("%w %q: 1 to 120 letters, digits and '-', starting with a letter or digit", err, alicloud.Truncate(v))
	}
	return nil
}

// checkTag checks a message tag: MNS refuses a longer one, and the
// request's XML cannot carry every character.
func checkTag(v string) error {
	if len(v) > maxTagBytes {
		return fmt.Errorf("%w: %d bytes, MNS takes at most %d: %q", errTag, len(v), maxTagBytes, alicloud.Truncate(v))
	}
	if at, ok := xmlSafe([]byte(v)); !ok {
		return fmt.Errorf("%w: %q holds a character XML cannot carry (byte %d)", errTag, v, at)
	}
	return nil
}

// parseBounded parses an integer in [lo, hi].
func parseBounded(v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be an integer from %d to %d, got %q", lo, hi, alicloud.Truncate(v))
	}
	return n, nil
}

type sink struct {
	log         *slog.Logger
	conn        conn
	dest        *template.Param // the queue or the topic
	topic       bool            // dest is a topic
	body        kit.Body
	bodyTmpl    *template.Param // set: overrides body
	delay       *template.Param
	priority    *template.Param
	tag         *template.Param // topics only
	base64      bool
	batchSize   int
	batchBytes  int
	parallelism int

	tr     *transport
	client ali_mns.MNSClient
	// resume skips, on the engine's retry of a failed Write, the records
	// that Write stored.
	resume kit.Resume
}

func newSink(tc api.TaskConfig) (api.Sink, error) {
	if err := validate(tc.Config); err != nil {
		return nil, err
	}
	c := tc.Config
	s := &sink{
		log:         tc.Logger,
		conn:        connOf(c),
		body:        kit.BodyOf(c),
		base64:      c.Bool("base64"),
		batchSize:   c.Int("batch.size"),
		batchBytes:  c.Int("batch.bytes"),
		parallelism: c.Int("send.parallelism"),
	}
	s.dest, s.topic, _ = compileDest(c)
	s.bodyTmpl, _ = compileBody(c)
	s.delay, _ = delayParam.Compile(c)
	s.priority, _ = priorityParam.Compile(c)
	s.tag, _ = tagParam.Compile(c)
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// Open builds the client and checks the endpoint, the credentials and,
// when it is a constant, the queue or topic, so that a wrong setting fails
// the task at once with a message naming it.
func (s *sink) Open(ctx context.Context) error {
	s.tr = newTransport(s.conn.Connect, s.conn.Timeout)
	cli, err := s.conn.client(s.tr)
	if err != nil {
		return api.Fatal(fmt.Errorf("mns sink: endpoint: %w", err))
	}
	s.client = cli
	s.tr.Use(ctx)
	defer s.tr.Release()
	name, constant := s.dest.Constant()
	switch {
	case constant && s.topic:
		_, err = ali_mns.NewMNSTopicManager(cli).GetTopicAttributes(name)
	case constant:
		_, err = ali_mns.NewMNSQueueManager(cli).GetQueueAttributes(name)
	case s.topic:
		_, err = ali_mns.NewMNSTopicManager(cli).ListTopic("", 1, "")
	default:
		_, err = ali_mns.NewMNSQueueManager(cli).ListQueue("", 1, "")
	}
	if missing := s.missing(err); missing != nil {
		return api.Fatal(fmt.Errorf("mns sink: %s %q: %w at %s", s.kind(), name, missing, s.conn.Endpoint))
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return triage.Mark(fmt.Errorf("mns sink: %s: %w", s.conn.Endpoint, explain(err)))
	}
	return nil
}

// kind is what dest names, for messages.
func (s *sink) kind() string {
	if s.topic {
		return "topic"
	}
	return "queue"
}

// missing is errQueueMissing or errTopicMissing when err says that the
// destination does not exist, else nil.
func (s *sink) missing(err error) error {
	switch {
	case !s.topic && is(err, &ali_mns.ERR_MNS_QUEUE_NOT_EXIST):
		return errQueueMissing
	case s.topic && is(err, &ali_mns.ERR_MNS_TOPIC_NOT_EXIST):
		return errTopicMissing
	}
	return nil
}

// message is one encoded record.
type message struct {
	index int    // in the Write's batch
	dest  string // queue or topic
	tag   string // a topic's message tag
	key   uint64 // orders sends: one key's messages go one call after another
	req   ali_mns.MessageSendRequest
}

// Write sends every record before it returns: the messages of a batch are
// grouped by queue and, within a queue, by record key into at most
// send.parallelism groups, sent at once; a group's messages go in
// BatchSendMessage calls of at most batch.size messages and batch.bytes
// bytes, one after another. A message MNS refuses for its content is
// rejected alone; any other failure stops its group and makes Write
// retryable, and the engine's retry then skips what this Write stored
// (kit.Resume), so an accepted message is not sent again.
func (s *sink) Write(ctx context.Context, records []api.Record) error {
	s.tr.Use(ctx)
	defer s.tr.Release()
	return s.resume.Write(records, func() error { return s.write(ctx, records) })
}

func (s *sink) write(ctx context.Context, records []api.Record) error {
	var bad api.RecordErrors
	byDest := map[string][]message{}
	var order []string
	var buf []byte
	for i := range records {
		if s.resume.Skip(records, i) {
			continue
		}
		m, b, err := s.encode(i, &records[i], buf[:0])
		buf = b
		if err != nil {
			bad = append(bad, kit.Reject(i, fmt.Errorf("mns sink: %w", err)))
			continue
		}
		if _, ok := byDest[m.dest]; !ok {
			order = append(order, m.dest)
		}
		byDest[m.dest] = append(byDest[m.dest], m)
	}
	var groups [][]message
	for _, q := range order {
		groups = append(groups, kit.PartitionByKey(byDest[q], s.parallelism, func(m *message) uint64 { return m.key })...)
	}
	rejected, err := kit.RunParallel(ctx, groups, s.parallelism, s.sendGroup)
	return kit.WriteResult(ctx, append(bad, rejected...), err)
}

// encode renders one record's message. buf is scratch space, returned for
// reuse; the message keeps no reference to it.
func (s *sink) encode(i int, r *api.Record, buf []byte) (message, []byte, error) {
	ev := &r.Event
	buf, err := s.dest.Render(ev, buf)
	if err != nil {
		return message{}, buf, err
	}
	dest := string(buf)
	if err := checkName(dest, s.topic); err != nil {
		return message{}, buf, err
	}
	m := message{index: i, dest: dest, req: ali_mns.MessageSendRequest{Priority: 8}}
	if s.delay.IsSet() {
		if m.req.DelaySeconds, buf, err = renderInt(s.delay, ev, buf, 0, maxDelaySeconds); err != nil {
			return message{}, buf, err
		}
	}
	if s.priority.IsSet() {
		if m.req.Priority, buf, err = renderInt(s.priority, ev, buf, minPriority, maxPriority); err != nil {
			return message{}, buf, err
		}
	}
	if s.tag.IsSet() {
		if buf, err = s.tag.Render(ev, buf[:0]); err != nil {
			return message{}, buf, err
		}
		if err := checkTag(string(buf)); err != nil {
			return message{}, buf, err
		}
		m.tag = string(buf)
	}
	var body []byte
	switch {
	case s.bodyTmpl.IsSet():
		buf, err = s.bodyTmpl.Render(ev, buf[:0])
		body = buf
	case s.body == kit.BodyData:
		body = ev.Data
	default:
		buf, err = ev.AppendJSON(buf[:0])
		body = buf
	}
	if err != nil {
		return message{}, buf, err
	}
	if s.base64 {
		if n := base64.StdEncoding.EncodedLen(len(body)); n > maxMessageBytes {
			return message{}, buf, fmt.Errorf("%w: %d bytes base64-encoded, MNS takes at most %d", errTooLarge, n, maxMessageBytes)
		}
		m.req.MessageBody = base64.StdEncoding.EncodeToString(body)
	} else {
		if len(body) > maxMessageBytes {
			return message{}, buf, fmt.Errorf("%w: %d bytes, MNS takes at most %d", errTooLarge, len(body), maxMessageBytes)
		}
		if at, ok := xmlSafe(body); !ok {
			return message{}, buf, fmt.Errorf("%w (byte %d)", errXMLChar, at)
		}
		m.req.MessageBody = string(body)
	}
	h := fnv.New64a()
	if len(r.Key) > 0 {
		h.Write(r.Key)
	} else {
		h.Write([]byte(ev.ID))
	}
	m.key = h.Sum64()
	return m, buf, nil
}

// renderInt renders p and parses it as an integer in [lo, hi].
func renderInt(p *template.Param, ev *api.Event, buf []byte, lo, hi int64) (int64, []byte, error) {
	buf, err := p.Render(ev, buf[:0])
	if err != nil {
		return 0, buf, err
	}
	n, err := parseBounded(string(buf), lo, hi)
	if err != nil {
		return 0, buf, fmt.Errorf("%w: %s %w", errParam, p.Name(), err)
	}
	return n, buf, nil
}

// xmlSafe reports whether b is UTF-8 made only of characters XML 1.0 can
// carry, and else the offset of the first that it cannot.
func xmlSafe(b []byte) (int, bool) {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n <= 1,
			r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return i, false
		}
		i += n
	}
	return 0, true
}

// sendGroup sends one group's messages in calls of at most batch.size
// messages and batch.bytes bytes, in order, stopping at the first failure
// that is not a rejected message.
func (s *sink) sendGroup(ctx context.Context, msgs []message) (api.RecordErrors, error) {
	if s.topic {
		return s.publishGroup(ctx, msgs)
	}
	// A handle per group: the SDK's queue handle is not safe for
	// concurrent use.
	q := ali_mns.NewMNSQueue(msgs[0].dest, s.client)
	var bad api.RecordErrors
	for len(msgs) > 0 {
		if err := ctx.Err(); err != nil {
			return bad, err
		}
		n, bytes := 0, 0
		for n < len(msgs) && n < s.batchSize && (n == 0 || bytes+len(msgs[n].req.MessageBody) <= s.batchBytes) {
			bytes += len(msgs[n].req.MessageBody)
			n++
		}
		rejected, err := s.send(q, msgs[:n])
		bad = append(bad, rejected...)
		if err != nil {
			return bad, err
		}
		msgs = msgs[n:]
	}
	return bad, nil
}

// send makes one BatchSendMessage call. Messages MNS accepted are marked
// stored, ones it refused for their content are rejected, and the first
// other failure is returned (after every entry was looked at), so that
// the engine's retry resends only what was not stored.
func (s *sink) send(q ali_mns.AliMNSQueue, msgs []message) (api.RecordErrors, error) {
	reqs := make([]ali_mns.MessageSendRequest, len(msgs))
	for i := range msgs {
		reqs[i] = msgs[i].req
	}
	resp, err := q.BatchSendMessage(reqs...)
	if err == nil {
		for _, m := range msgs {
			s.resume.Stored(m.index)
		}
		return nil, nil
	}
	if is(err, &ali_mns.ERR_MNS_BATCH_OP_FAIL) && len(resp.Messages) == len(msgs) {
		var bad api.RecordErrors
		var failed error
		for i, e := range resp.Messages {
			if e.ErrorCode == "" {
				s.resume.Stored(msgs[i].index)
				continue
			}
			entry := &entryError{code: e.ErrorCode, msg: e.ErrorMessage}
			switch codes.Class(e.ErrorCode) {
			case kit.RecordFault:
				bad = append(bad, kit.Reject(msgs[i].index, fmt.Errorf("mns sink: queue %s: %w", q.Name(), entry)))
			case kit.Fatal:
				failed = api.Fatal(fmt.Errorf("mns sink: queue %s: %w", q.Name(), entry))
			default:
				if failed == nil {
					failed = triage.Mark(fmt.Errorf("mns sink: queue %s: %d of %d messages not stored: %w", q.Name(), countFailed(resp), len(msgs), entry))
				}
			}
		}
		return bad, failed
	}
	switch triage.Classify(err) {
	case kit.RecordFault:
		// The call as a whole was refused: send the messages one by one so
		// that only the offending ones are rejected.
		if len(msgs) == 1 {
			return api.RecordErrors{kit.Reject(msgs[0].index, fmt.Errorf("mns sink: queue %s: %w", q.Name(), err))}, nil
		}
		var bad api.RecordErrors
		for i := range msgs {
			rejected, err := s.send(q, msgs[i:i+1])
			bad = append(bad, rejected...)
			if err != nil {
				return bad, err
			}
		}
		return bad, nil
	case kit.Fatal:
		if _, constant := s.dest.Constant(); !constant && is(err, &ali_mns.ERR_MNS_QUEUE_NOT_EXIST) {
			// A queue named by the event: the records' fault, not the task's.
			var bad api.RecordErrors
			for _, m := range msgs {
				bad = append(bad, kit.Reject(m.index, fmt.Errorf("mns sink: queue %q: %w", m.dest, errQueueMissing)))
			}
			return bad, nil
		}
	}
	return nil, triage.Mark(fmt.Errorf("mns sink: queue %s: %w", q.Name(), explain(err)))
}

// publishGroup publishes one group's messages to their topic, one
// PublishMessage call each (MNS has no batch publish), in order, stopping
// at the first failure that is not a rejected message.
func (s *sink) publishGroup(ctx context.Context, msgs []message) (api.RecordErrors, error) {
	// A handle per group: the SDK's topic handle, like its queue handle,
	// is not safe for concurrent use.
	t := ali_mns.NewMNSTopic(msgs[0].dest, s.client)
	var bad api.RecordErrors
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return bad, err
		}
		_, err := t.PublishMessage(ali_mns.MessagePublishRequest{MessageBody: m.req.MessageBody, MessageTag: m.tag})
		if err == nil {
			s.resume.Stored(m.index)
			continue
		}
		_, constant := s.dest.Constant()
		switch {
		case triage.Classify(err) == kit.RecordFault:
			bad = append(bad, kit.Reject(m.index, fmt.Errorf("mns sink: topic %s: %w", m.dest, err)))
			continue
		case !constant && is(err, &ali_mns.ERR_MNS_TOPIC_NOT_EXIST):
			// A topic named by the event: the record's fault, not the task's.
			bad = append(bad, kit.Reject(m.index, fmt.Errorf("mns sink: topic %q: %w", m.dest, errTopicMissing)))
			continue
		}
		return bad, triage.Mark(fmt.Errorf("mns sink: topic %s: %w", m.dest, explain(err)))
	}
	return bad, nil
}

func countFailed(resp ali_mns.BatchMessageSendResponse) int {
	n := 0
	for _, e := range resp.Messages {
		if e.ErrorCode != "" {
			n++
		}
	}
	return n
}

// cleanerPeriod is how often fasthttp's client looks for idle hosts; its
// cleaner goroutine ends at the first look that finds none after the last
// request (the transport leaves fasthttp no connections to keep).
const cleanerPeriod = time.Second

// Close closes the connections. Write does not return before its calls
// do. The SDK's fasthttp client keeps a cleaner goroutine until a second
// after its last request; Close waits that out, even after ctx ended (it
// is at most 1.2 s), so that nothing the sink set going outlives it.
func (s *sink) Close(context.Context) error {
	if s.tr == nil {
		return nil
	}
	s.tr.close()
	if idle := s.tr.idle(); idle > 0 && idle < cleanerPeriod+200*time.Millisecond {
		time.Sleep(cleanerPeriod + 200*time.Millisecond - idle)
	}
	s.tr, s.client = nil, nil
	return nil
}
