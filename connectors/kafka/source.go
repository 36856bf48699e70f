package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// Source is the kafka source plugin. Its settings, under source.:
//
//	field                      type      default   description
//	brokers                    list      required  Bootstrap brokers, host:port, comma-separated.
//	client.id                  string    -         Client id the brokers see (quotas, logs); default ferry-<connector>.
//	sasl.mechanism             string    none      SASL mechanism; none for an unauthenticated listener. One of: none, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512.
//	sasl.username              string    -         SASL user name.
//	sasl.password              string    -         SASL password; use ${env:…}, ${file:…} or ${dir:…}. Secret.
//	tls.enabled                boolean   false     Connect with TLS.
//	tls.ca.file                string    -         PEM CA bundle that verifies the brokers (default: the system's roots).
//	tls.cert.file              string    -         PEM client certificate, for brokers that require one (with tls.key.file).
//	tls.key.file               string    -         PEM key of tls.cert.file.
//	tls.insecure.skip.verify   boolean   false     Do not verify the brokers' certificates (testing only).
//	dial.timeout               duration  10s       Time to connect to one broker.
//	topics                     list      -         Topics to read, comma-separated (or topics.regex).
//	topics.regex               string    -         Read every non-internal topic whose whole name matches this RE2 expression, including topics created later (or topics).
//	group.id                   string    -         Consumer group the committed positions are published to, so Kafka's lag tools see progress; default ferry-<connector>. Ferry assigns partitions itself: the group never has members.
//	group.commit.interval      duration  5s        How often committed positions are published to the consumer group (also when the task stops).
//	start                      string    earliest  Where a partition with no stored position starts: earliest, latest or timestamp:<unix-ms> (the first record at or after it). Never applied to a partition with a stored position.
//	fetch.max.bytes            int       16777216  Most bytes one fetch request returns (a first record batch larger than this is still returned).
//	fetch.partition.max.bytes  int       524288    Most bytes one fetch returns per partition; at most fetch.max.bytes.
//	fetch.min.bytes            int       1         Bytes a fetch waits for (up to fetch.max.wait) before the broker answers; at most fetch.max.bytes.
//	fetch.max.wait             duration  500ms     Longest the broker holds a fetch waiting for fetch.min.bytes.
//	batch.size                 int       4096      Most records one Read returns.
//	metadata.refresh.interval  duration  30s       Longest time before partitions added to a topic, or topics newly matching topics.regex, are read.
//
// docs/kafka-source.md is the user's guide: ownership, positions and group
// offsets, the event shape.
var Source = api.SourcePlugin{
	Name:     "kafka",
	Summary:  "Reads Kafka topics as CloudEvents (structured, binary or plain records), partitions split over the tasks; progress published to a consumer group.",
	Spec:     sourceSpec,
	New:      newSource,
	Validate: validateSource,
	// No Plan: every task gets the same settings and reads the partitions
	// kit.Owner gives it, re-evaluated on live metadata.
}

// EventType is the type of events made from plain (non-CloudEvents)
// records.
const EventType = "ferry.kafka.v1"

const (
	maxTopics      = 1000
	maxRegexLen    = 1024
	maxGroupIDLen  = 255
	requestTimeout = 30 * time.Second // beyond fetch.max.wait
)

var sourceSpec = slices.Concat(connSpec, api.Spec{
	{Name: "topics", Type: api.TypeList, Check: checkTopics,
		Description: "Topics to read, comma-separated (or topics.regex)."},
	{Name: "topics.regex", Type: api.TypeString, Check: checkRegex,
		Description: "Read every non-internal topic whose whole name matches this RE2 expression, including topics created later (or topics)."},
	{Name: "group.id", Type: api.TypeString, Check: api.MaxLen(maxGroupIDLen),
		Description: "Consumer group the committed positions are published to, so Kafka's lag tools see progress; default ferry-<connector>. Ferry assigns partitions itself: the group never has members."},
	{Name: "group.commit.interval", Type: api.TypeDuration, Default: "5s", Check: api.DurationRange(100*time.Millisecond, time.Hour),
		Description: "How often committed positions are published to the consumer group (also when the task stops)."},
	{Name: "start", Type: api.TypeString, Default: "earliest", Check: checkStart,
		Description: "Where a partition with no stored position starts: earliest, latest or timestamp:<unix-ms> (the first record at or after it). Never applied to a partition with a stored position."},
	{Name: "fetch.max.bytes", Type: api.TypeInt, Default: "16777216", Check: api.Range(1024, 256<<20),
		Description: "Most bytes one fetch request returns (a first record batch larger than this is still returned)."},
	// 512 KiB, not more: a request's answer is held whole while it is
	// decoded, and larger answers made a live heap the collector paid for
	// (docs/benchmarks.md, Kafka, session 9).
	{Name: "fetch.partition.max.bytes", Type: api.TypeInt, Default: "524288", Check: api.Range(1024, 64<<20),
		Description: "Most bytes one fetch returns per partition; at most fetch.max.bytes."},
	{Name: "fetch.min.bytes", Type: api.TypeInt, Default: "1", Check: api.Range(1, 64<<20),
		Description: "Bytes a fetch waits for (up to fetch.max.wait) before the broker answers; at most fetch.max.bytes."},
	{Name: "fetch.max.wait", Type: api.TypeDuration, Default: "500ms", Check: api.DurationRange(time.Millisecond, 30*time.Second),
		Description: "Longest the broker holds a fetch waiting for fetch.min.bytes."},
	{Name: "batch.size", Type: api.TypeInt, Default: "4096", Check: api.Range(1, 1<<20),
		Description: "Most records one Read returns."},
	{Name: "metadata.refresh.interval", Type: api.TypeDuration, Default: "30s", Check: api.DurationRange(time.Second, time.Hour),
		Description: "Longest time before partitions added to a topic, or topics newly matching topics.regex, are read."},
})

func checkTopics(v string) error {
	list := api.NewConfig(map[string]string{"t": v}).List("t")
	if len(list) > maxTopics {
		return fmt.Errorf("at most %d topics", maxTopics)
	}
	for _, t := range list {
		if err := kit.CheckTopic(t); err != nil {
			return err
		}
	}
	return nil
}

func checkRegex(v string) error {
	if len(v) > maxRegexLen {
		return fmt.Errorf("at most %d bytes", maxRegexLen)
	}
	_, err := compileTopicRegex(v)
	return err
}

// compileTopicRegex anchors the expression: it must match a whole name.
func compileTopicRegex(v string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + v + `)$`)
}

// startMode is a parsed start setting.
type startMode = kit.Start

func parseStart(v string) (startMode, error) { return kit.ParseStart(v, "earliest", "latest") }

func checkStart(v string) error { _, err := parseStart(v); return err }

// validateSource checks what involves several fields.
func validateSource(c api.Config) error {
	var errs []api.FieldError
	var ve *api.ValidationError
	if err := validateConn(c); errors.As(err, &ve) {
		errs = append(errs, ve.Fields...)
	} else if err != nil {
		return err
	}
	topics, re := len(c.List("topics")) > 0, c.String("topics.regex") != ""
	switch {
	case topics && re:
		errs = append(errs, api.FieldError{Field: "topics.regex", Message: "set topics or topics.regex, not both"})
	case !topics && !re:
		errs = append(errs, api.FieldError{Field: "topics", Message: "set topics (a list) or topics.regex"})
	}
	if c.Int("fetch.min.bytes") > c.Int("fetch.max.bytes") {
		errs = append(errs, api.FieldError{Field: "fetch.min.bytes", Message: "is more than fetch.max.bytes"})
	}
	if c.Int("fetch.partition.max.bytes") > c.Int("fetch.max.bytes") {
		errs = append(errs, api.FieldError{Field: "fetch.partition.max.bytes", Message: "is more than fetch.max.bytes"})
	}
	if errs != nil {
		return &api.ValidationError{Fields: errs}
	}
	return nil
}

// tp names one partition.
type tp struct {
	topic string
	id    int
}

// partitionName is a partition's name in Ferry (positions, metrics):
// Kafka's own <topic>-<partition>. Topic names cannot hold a character
// that would make it ambiguous read from the last '-'.
func partitionName(topic string, id int) string { return topic + "-" + strconv.Itoa(id) }

func parsePartitionName(name string) (tp, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return tp{}, false
	}
	id, err := strconv.Atoi(name[i+1:])
	if err != nil || id < 0 {
		return tp{}, false
	}
	return tp{name[:i], id}, true
}

// part is one owned partition.
type part struct {
	tp
	name   string // partitionName
	next   int64  // offset of the next record to read
	leader int
	// idPrefix and topicValue are the per-record strings made once:
	// the event id's "<topic>-<partition>-" and the topic as an any.
	idPrefix   string
	topicValue any
	lastCount  int // records the partition's last fetch with any held: sizes the next batch
}

type source struct {
	tc       api.TaskConfig
	log      *slog.Logger
	evSource string
	conn     conn
	tr       *kafkago.Transport
	client   *kafkago.Client
	addr     net.Addr
	topics   []string // fixed list, or nil with re
	re       *regexp.Regexp
	group    string
	start    startMode
	fetchMax int32
	partMax  int32
	minBytes int32
	maxWait  time.Duration
	batch    int
	refresh  time.Duration
	publishN time.Duration

	// The reader's state: Open, Read and Close run one at a time. While
	// jobs are in flight each owns its partitions' next offsets and its
	// decoder; s.parts and the groups change only when none is.
	parts       map[tp]*part
	order       []*part // parts sorted by name: the fetch order
	nextMeta    time.Time
	nextPublish time.Time
	opened      bool
	warnedEmpty bool
	staleMeta   bool           // a fetch failed: restart the transport's metadata
	pending     [][]api.Record // batches decoded, not yet handed out
	groups      [][]*part      // the partitions with a leader, by fetch request; nil: to be made
	jobs        []*job         // the job in flight per group, or nil
	running     int            // jobs in flight
	results     chan *job      // where jobs land, room for one per group
	decoders    []*decoder     // one per group
	runCtx      context.Context
	stop        context.CancelFunc // ends the jobs' requests (Close)

	// Progress holds what the engine's Committed and Lag calls share with
	// the reader: committed positions not yet published, and lag.
	kit.Progress
}

func newSource(tc api.TaskConfig) (api.Source, error) {
	c := tc.Config
	cn, err := parseConn(c, tc.Connector)
	if err != nil {
		return nil, err
	}
	start, err := parseStart(c.String("start"))
	if err != nil {
		return nil, api.Fatal(fmt.Errorf("kafka source: start: %w", err))
	}
	s := &source{
		tc:       tc,
		log:      tc.Logger,
		evSource: "/ferry/kafka/" + tc.Connector,
		conn:     cn,
		topics:   c.List("topics"),
		group:    cmp.Or(c.String("group.id"), "ferry-"+tc.Connector),
		start:    start,
		fetchMax: int32(c.Int("fetch.max.bytes")),
		partMax:  int32(c.Int("fetch.partition.max.bytes")),
		minBytes: int32(c.Int("fetch.min.bytes")),
		maxWait:  c.Duration("fetch.max.wait"),
		batch:    c.Int("batch.size"),
		refresh:  c.Duration("metadata.refresh.interval"),
		publishN: c.Duration("group.commit.interval"),
		parts:    map[tp]*part{},
	}
	s.runCtx, s.stop = context.WithCancel(context.Background())
	if s.log == nil {
		s.log = slog.Default()
	}
	if r := c.String("topics.regex"); r != "" {
		if s.re, err = compileTopicRegex(r); err != nil {
			return nil, api.Fatal(fmt.Errorf("kafka source: topics.regex: %w", err))
		}
		s.topics = nil
	}
	// Every stored position is checked now, so a corrupt one (an operator's
	// offset alter, say) fails the task before it reads anything.
	for name, pos := range tc.Committed {
		if _, ok := parsePartitionName(name); !ok {
			return nil, api.Fatal(fmt.Errorf("kafka source: %w: partition %q is not <topic>-<partition>", errBadPosition, name))
		}
		if _, err := parseOffset(pos); err != nil {
			return nil, api.Fatal(fmt.Errorf("kafka source: %w: partition %s: %v", errBadPosition, name, err))
		}
	}
	s.tr = cn.transport()
	s.tr.MetadataTTL = s.refresh
	s.tr.MetadataTopics = s.topics
	s.addr = kafkago.TCP(cn.brokers...)
	s.client = &kafkago.Client{Addr: s.addr, Transport: s.tr, Timeout: requestTimeout}
	return s, nil
}

// parseOffset reads a position: the offset of the next record to read.
func parseOffset(pos api.Position) (int64, error) {
	off, err := strconv.ParseInt(string(pos), 10, 64)
	if err != nil || off < 0 {
		return 0, fmt.Errorf("%q is not an offset", pos)
	}
	return off, nil
}

func (s *source) Open(ctx context.Context) error {
	if err := s.refreshMetadata(ctx); err != nil {
		// The engine closes only a source that opened: the transport's
		// goroutines end here, and a retried Open starts them again with
		// fresh metadata.
		s.tr.CloseIdleConnections()
		s.staleMeta = false
		return err
	}
	s.opened = true
	s.nextPublish = time.Now().Add(s.publishN)
	return nil
}

// Read hands out the records of landed fetches. Each fetch request (a
// leader broker's partitions, split into up to GOMAXPROCS requests: see
// requests) is a job that fetches and decodes on its own goroutine, and a
// new one is sent as soon as the last landed, so several fetches and
// their decoding run at once, and on while the engine works on the
// records handed out: one task keeps every core busy, as several
// consumers would, and a quiet request never holds up a busy one.
func (s *source) Read(ctx context.Context) ([]api.Record, error) {
	for {
		if len(s.pending) > 0 {
			return s.take(), nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		now := time.Now()
		if !now.Before(s.nextPublish) {
			s.publish(ctx)
			s.nextPublish = now.Add(s.publishN)
		}
		if !now.Before(s.nextMeta) {
			// Partitions change only between fetches: let those in flight
			// land first.
			if err := s.drain(ctx); err != nil {
				return nil, err
			}
			if err := s.refreshMetadata(ctx); err != nil {
				return nil, err
			}
			continue
		}
		if len(s.order) == 0 {
			if err := sleep(ctx, min(time.Until(s.nextMeta), time.Until(s.nextPublish))); err != nil {
				return nil, err
			}
			continue
		}
		s.launch()
		if s.running == 0 {
			// Every owned partition is electing a leader: wait for the
			// next metadata refresh rather than spin.
			s.nextMeta = time.Now().Add(min(s.refresh, time.Second))
			if err := sleep(ctx, time.Until(s.nextMeta)); err != nil {
				return nil, err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err() // the jobs go on; the next Read or Close takes them
		case j := <-s.results:
			if err := s.land(ctx, j); err != nil {
				return nil, err
			}
		}
	}
}

// drain waits for every job in flight and takes its records.
func (s *source) drain(ctx context.Context) error {
	var errs []error
	for s.running > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case j := <-s.results:
			if err := s.land(ctx, j); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// take hands out up to batch.size records of the first pending batch.
func (s *source) take() []api.Record {
	b := s.pending[0]
	n := min(len(b), s.batch)
	out := b[:n:n]
	if n == len(b) {
		s.pending[0] = nil
		s.pending = s.pending[1:]
		if len(s.pending) == 0 {
			s.pending = nil
		}
	} else {
		s.pending[0] = b[n:]
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Close stops the jobs in flight, if any (their records were never
// handed out, so nothing of them was committed), publishes the committed
// positions and closes the connections. It may be called again.
func (s *source) Close(ctx context.Context) error {
	s.stop()
	for s.running > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case j := <-s.results:
			s.running--
			s.jobs[j.slot] = nil
		}
	}
	s.pending = nil
	s.publish(ctx)
	s.tr.CloseIdleConnections()
	return nil
}

// publish commits the positions the engine committed since the last
// publish to the consumer group, as a simple (generation -1, memberless)
// commit. A failure is logged and the positions are offered again next
// time: the group's offsets are a view for Kafka's tools, Ferry's offset
// store is what the task resumes from.
func (s *source) publish(ctx context.Context) {
	pending := s.TakeCommitted()
	if len(pending) == 0 {
		return
	}
	topics := map[string][]kafkago.OffsetCommit{}
	for name, pos := range pending {
		p, ok := parsePartitionName(name)
		off, err := parseOffset(pos)
		if !ok || err != nil {
			continue
		}
		topics[p.topic] = append(topics[p.topic], kafkago.OffsetCommit{Partition: p.id, Offset: off})
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := s.client.OffsetCommit(ctx, &kafkago.OffsetCommitRequest{
		Addr: s.addr, GroupID: s.group, GenerationID: -1, Topics: topics,
	})
	var failed []error
	if err != nil {
		failed = append(failed, err)
	} else {
		for topic, ps := range resp.Topics {
			for _, p := range ps {
				if p.Error != nil {
					failed = append(failed, fmt.Errorf("%s: %w", partitionName(topic, p.Partition), p.Error))
				}
			}
		}
	}
	if failed == nil {
		return
	}
	s.log.Warn("kafka source: cannot publish committed positions to the consumer group; will retry",
		"group", s.group, "err", errors.Join(failed...))
	s.Retry(pending)
}
