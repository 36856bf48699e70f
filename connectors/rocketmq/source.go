package rocketmq

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/internal/rmqwire"
)

// Source is the rocketmq source plugin. Its settings, under source.:
//
//	field                      type      default      description
//	nameservers                list      required     Name server addresses, host:port, comma-separated (at most 64).
//	topic                      string    required     Topic to read.
//	group                      string    -            Consumer group whose broker-side offsets show the connector's progress, so RocketMQ's tools see it; default ferry-<connector>. Ferry assigns queues itself: the group has no online consumers.
//	filter.tag                 string    -            Tag expression: tags separated by ||, or * for all (or filter.sql).
//	filter.sql                 string    -            SQL92 expression on message properties, evaluated by the broker, which needs enablePropertyFilter=true (or filter.tag).
//	start                      string    first        Where a queue with neither a stored position nor a group offset starts: first, last or timestamp:<unix-ms> (the first message stored at or after it).
//	order                      string    partitioned  partitioned: records carry the message's sharding key (else its keys) as their key, so keyed sinks keep per-key order; concurrent: records carry no key and sinks spread them freely. One of: partitioned, concurrent.
//	access.key                 string    -            ACL access key; set with secret.key. Secret.
//	secret.key                 string    -            ACL secret key; set with access.key. Secret.
//	pull.batch.size            int       32           Most messages one pull asks a queue for (the broker also caps it, at 32 by default).
//	pull.hold                  duration  5s           Longest a pull at a queue's end waits at the broker for a new message (long polling); a new message answers it at once.
//	batch.size                 int       4096         Most records one Read returns.
//	metadata.refresh.interval  duration  30s          Longest time before queues added to the topic are read.
//	group.commit.interval      duration  5s           How often committed positions are written to the group's broker-side offsets (also when the task stops).
//	request.timeout            duration  5s           Time a name server or broker request other than a pull may take.
//
// docs/rocketmq-source.md is the user's guide: ownership, positions and
// group offsets, the event shape.
var Source = api.SourcePlugin{
	Name:     "rocketmq",
	Summary:  "Reads an Apache RocketMQ topic as CloudEvents (CE_* properties, structured or plain messages), queues split over the tasks; progress published to the consumer group's offsets.",
	Spec:     sourceSpec,
	New:      newSource,
	Validate: validateSource,
	// No Plan: every task gets the same settings and reads the queues
	// kit.Owner gives it, re-evaluated on the live route.
}

// EventType is the type of events made from plain (non-CloudEvents)
// messages.
const EventType = "ferry.rocketmq.v1"

const (
	maxNameservers = 64
	maxGroupLen    = 255
	maxFilterLen   = 4096
	maxTags        = 256
)

var sourceSpec = api.Spec{
	{Name: "nameservers", Type: api.TypeList, Required: true, Check: checkNameservers,
		Description: "Name server addresses, host:port, comma-separated (at most 64)."},
	{Name: "topic", Type: api.TypeString, Required: true, Check: checkTopic,
		Description: "Topic to read."},
	{Name: "group", Type: api.TypeString, Check: checkGroup,
		Description: "Consumer group whose broker-side offsets show the connector's progress, so RocketMQ's tools see it; default ferry-<connector>. Ferry assigns queues itself: the group has no online consumers."},
	{Name: "filter.tag", Type: api.TypeString, Check: checkTagFilter,
		Description: "Tag expression: tags separated by ||, or * for all (or filter.sql)."},
	{Name: "filter.sql", Type: api.TypeString, Check: checkSQLFilter,
		Description: "SQL92 expression on message properties, evaluated by the broker, which needs enablePropertyFilter=true (or filter.tag)."},
	{Name: "start", Type: api.TypeString, Default: "first", Check: checkStart,
		Description: "Where a queue with neither a stored position nor a group offset starts: first, last or timestamp:<unix-ms> (the first message stored at or after it)."},
	{Name: "order", Type: api.TypeString, Default: "partitioned", Enum: []string{"partitioned", "concurrent"},
		Description: "partitioned: records carry the message's sharding key (else its keys) as their key, so keyed sinks keep per-key order; concurrent: records carry no key and sinks spread them freely."},
	{Name: "access.key", Type: api.TypeString, Secret: true,
		Description: "ACL access key; set with secret.key."},
	{Name: "secret.key", Type: api.TypeString, Secret: true,
		Description: "ACL secret key; set with access.key."},
	{Name: "pull.batch.size", Type: api.TypeInt, Default: "32", Check: api.Range(1, 1024),
		Description: "Most messages one pull asks a queue for (the broker also caps it, at 32 by default)."},
	{Name: "pull.hold", Type: api.TypeDuration, Default: "5s", Check: api.DurationRange(100*time.Millisecond, time.Minute),
		Description: "Longest a pull at a queue's end waits at the broker for a new message (long polling); a new message answers it at once."},
	{Name: "batch.size", Type: api.TypeInt, Default: "4096", Check: api.Range(1, 1<<20),
		Description: "Most records one Read returns."},
	{Name: "metadata.refresh.interval", Type: api.TypeDuration, Default: "30s", Check: api.DurationRange(time.Second, time.Hour),
		Description: "Longest time before queues added to the topic are read."},
	{Name: "group.commit.interval", Type: api.TypeDuration, Default: "5s", Check: api.DurationRange(100*time.Millisecond, time.Hour),
		Description: "How often committed positions are written to the group's broker-side offsets (also when the task stops)."},
	{Name: "request.timeout", Type: api.TypeDuration, Default: "5s", Check: api.DurationRange(100*time.Millisecond, time.Minute),
		Description: "Time a name server or broker request other than a pull may take."},
}

func checkNameservers(v string) error {
	if n := len(api.NewConfig(map[string]string{"v": v}).List("v")); n > maxNameservers {
		return fmt.Errorf("%d addresses, at most %d", n, maxNameservers)
	}
	return checkAddrs(v)
}

// checkGroup applies the broker's rules for group names: topic
// characters, at most 255 of them.
func checkGroup(v string) error {
	if len(v) > maxGroupLen {
		return fmt.Errorf("%d characters, at most %d", len(v), maxGroupLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '%' || c == '|' || c == '_' || c == '-') {
			return fmt.Errorf("%q has %q; allowed are letters, digits, %%, |, _ and -", v, c)
		}
	}
	return nil
}

// parseTags reads a tag expression: "*" or "" (every message, nil), else
// tags separated by "||".
func parseTags(v string) (map[string]bool, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "*" {
		return nil, nil
	}
	if len(v) > maxFilterLen {
		return nil, fmt.Errorf("%d bytes, at most %d", len(v), maxFilterLen)
	}
	parts := strings.Split(v, "||")
	if len(parts) > maxTags {
		return nil, fmt.Errorf("%d tags, at most %d", len(parts), maxTags)
	}
	tags := make(map[string]bool, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
			return nil, fmt.Errorf("%q has an empty tag; write tags as a || b", v)
		case p == "*":
			return nil, fmt.Errorf("%q: * stands alone, it cannot be one of several tags", v)
		case strings.ContainsFunc(p, isControl):
			return nil, fmt.Errorf("tag %q has a control character", p)
		}
		tags[p] = true
	}
	return tags, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func checkTagFilter(v string) error { _, err := parseTags(v); return err }

// checkSQLFilter bounds the expression and catches what is certainly not
// an expression; the broker parses it (and answers a pull with a clear
// error when it cannot).
func checkSQLFilter(v string) error {
	if len(v) > maxFilterLen {
		return fmt.Errorf("%d bytes, at most %d", len(v), maxFilterLen)
	}
	if strings.ContainsFunc(v, func(r rune) bool { return isControl(r) && r != '\t' && r != '\n' && r != '\r' }) {
		return errors.New("has a control character")
	}
	depth, quoted := 0, false
	for _, c := range v {
		switch {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			if depth--; depth < 0 {
				return errors.New("has a ) without its (")
			}
		}
	}
	switch {
	case quoted:
		return errors.New("has an unterminated string")
	case depth > 0:
		return errors.New("has a ( without its )")
	}
	return nil
}

// startMode is a parsed start setting.
type startMode = kit.Start

func parseStart(v string) (startMode, error) { return kit.ParseStart(v, "first", "last") }

func checkStart(v string) error { _, err := parseStart(v); return err }

// validateSource checks what involves several fields.
func validateSource(c api.Config) error {
	var fields []api.FieldError
	tag, sql := strings.TrimSpace(c.String("filter.tag")), strings.TrimSpace(c.String("filter.sql"))
	if tag != "" && tag != "*" && sql != "" {
		fields = append(fields, api.FieldError{Field: "filter.sql", Message: "set filter.tag or filter.sql, not both"})
	}
	if (c.String("access.key") == "") != (c.String("secret.key") == "") {
		fields = append(fields, api.FieldError{Field: "secret.key", Message: "set access.key and secret.key together"})
	}
	if fields != nil {
		return &api.ValidationError{Fields: fields}
	}
	return nil
}

// qid names one message queue: a topic's queue on one broker group.
type qid struct {
	broker string
	id     int
}

// queueName is a queue's partition name in Ferry (positions, metrics,
// lag): <topic>/<broker>/<queue id>. Topic names cannot hold a '/'; a
// broker name may, so the id is read from the last '/'.
func queueName(topic, broker string, id int) string {
	return topic + "/" + broker + "/" + strconv.Itoa(id)
}

func parseQueueName(name string) (topic string, q qid, ok bool) {
	first, last := strings.IndexByte(name, '/'), strings.LastIndexByte(name, '/')
	if first <= 0 || last <= first+1 {
		return "", qid{}, false
	}
	id, err := strconv.Atoi(name[last+1:])
	if err != nil || id < 0 {
		return "", qid{}, false
	}
	return name[:first], qid{name[first+1 : last], id}, true
}

// parseOffset reads a position: the offset of the next message to read.
func parseOffset(pos api.Position) (int64, error) {
	off, err := strconv.ParseInt(string(pos), 10, 64)
	if err != nil || off < 0 {
		return 0, fmt.Errorf("%q is not an offset", pos)
	}
	return off, nil
}

type source struct {
	tc         api.TaskConfig
	log        *slog.Logger
	evSource   string
	names      []string
	creds      rmqwire.Credentials
	topic      string
	group      string
	tags       map[string]bool // nil: every tag
	sql        string
	start      startMode
	keyed      bool
	pullMax    int
	hold       time.Duration
	batch      int
	refresh    time.Duration
	publishN   time.Duration
	reqTimeout time.Duration
	subVersion string

	// The reader's state: Open, Read and Close run one at a time.
	queues      map[qid]*queue
	order       []*queue // queues sorted by name: the order pulls are sent in
	links       map[string]*link
	resp        chan response
	pending     []api.Record
	props       []prop   // scratch for one message's properties
	intern      interner // property names and tags
	nextMeta    time.Time
	nextPublish time.Time
	opened      bool

	// Progress holds what the engine's Committed and Lag share with the
	// reader: positions to publish, lag per queue.
	kit.Progress
}

func newSource(tc api.TaskConfig) (api.Source, error) {
	if err := validateSource(tc.Config); err != nil {
		return nil, err
	}
	c := tc.Config
	start, err := parseStart(c.String("start"))
	if err != nil {
		return nil, api.Fatal(fmt.Errorf("rocketmq source: start: %w", err))
	}
	tags, err := parseTags(c.String("filter.tag"))
	if err != nil {
		return nil, api.Fatal(fmt.Errorf("rocketmq source: filter.tag: %w", err))
	}
	s := &source{
		tc:         tc,
		log:        tc.Logger,
		evSource:   "/ferry/rocketmq/" + tc.Connector,
		names:      c.List("nameservers"),
		creds:      rmqwire.Credentials{AccessKey: c.String("access.key"), SecretKey: c.String("secret.key")},
		topic:      c.String("topic"),
		group:      cmp.Or(c.String("group"), "ferry-"+tc.Connector),
		tags:       tags,
		sql:        strings.TrimSpace(c.String("filter.sql")),
		start:      start,
		keyed:      c.String("order") != "concurrent",
		pullMax:    c.Int("pull.batch.size"),
		hold:       c.Duration("pull.hold"),
		batch:      c.Int("batch.size"),
		refresh:    c.Duration("metadata.refresh.interval"),
		publishN:   c.Duration("group.commit.interval"),
		reqTimeout: c.Duration("request.timeout"),
		subVersion: strconv.FormatInt(time.Now().UnixMilli(), 10),
		queues:     map[qid]*queue{},
		links:      map[string]*link{},
		resp:       make(chan response, 64),
		intern:     interner{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	// Every stored position is checked now, so a corrupt one (an
	// operator's offset alter, say) fails the task before it reads.
	for name, pos := range tc.Committed {
		if _, _, ok := parseQueueName(name); !ok {
			return nil, api.Fatal(fmt.Errorf("rocketmq source: %w: partition %q is not <topic>/<broker>/<queue>", errBadPosition, name))
		}
		if _, err := parseOffset(pos); err != nil {
			return nil, api.Fatal(fmt.Errorf("rocketmq source: %w: partition %s: %v", errBadPosition, name, err))
		}
	}
	return s, nil
}

// sortedQueueNames lists the names of queues, for logs.
func sortedQueueNames(qs []*queue) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.name
	}
	slices.Sort(out)
	return out
}
