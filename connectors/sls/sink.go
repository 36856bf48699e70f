package sls

import (
	"cmp"
	"context"
	"crypto/md5"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/connectors/kit/alicloud"
	"github.com/ferryhq/ferry/transform/template"
)

// Sink is the sls sink plugin. Its fields (sink.<field>):
//
//	field                             type       default   description
//	endpoint                          string     required  The region's SLS endpoint, such as cn-hangzhou.log.aliyuncs.com or https://cn-hangzhou-intranet.log.aliyuncs.com (http unless https:// is given); the SDK puts the project in front of it.
//	access.key.id                     string     required  AccessKey ID (of a RAM user or of STS credentials).
//	access.key.secret                 string     required  AccessKey secret. Secret.
//	security.token                    string     -         STS security token, with temporary access keys. Secret.
//	signature.version                 string     v1        Request signature: v1 (HMAC-SHA1) or v4 (HMAC-SHA256, needs region). One of: v1, v4.
//	region                            string     -         Region id such as cn-hangzhou; required with signature.version=v4.
//	connect.address                   string     -         host:port to connect to instead of the endpoint's host (a proxy, a private link, an emulator); requests still name the endpoint, and HTTPS still verifies its name.
//	request.timeout                   duration   30s       Time one request may take.
//	project                           string     required  Project name.
//	logstore                          string     required  Logstore name.
//	contents                          string     event     event: every attribute as a key and the data flattened under data.; data: the data flattened, its members as keys; map: the keys set with contents.<key>=<constant> or contents.<key>.form/.value/.template (EventBridge's ContentSchema). One of: event, data, map.
//	contents.<name>                   string     -         With contents=map: contents.<key>=<constant> sets log key <key>; contents.<key>.form, .value and .template take it from the event. At most 128 keys.
//	topic[.form|.value|.template]     parameter  -         The logs' __topic__; none when unset. A constant; to take it from the event use topic.form instead.
//	source[.form|.value|.template]    parameter  -         The logs' __source__; none when unset (SLS then records the client's address). A constant; to take it from the event use source.form instead.
//	hash.key[.form|.value|.template]  parameter  -         Routes each log to the shard whose range holds the MD5 of this value, so one key's logs share a shard; unset or empty: shards take turns. A constant; to take it from the event use hash.key.form instead.
//	time[.form|.value|.template]      parameter  -         The log's time: unix seconds or RFC 3339; default the event's time (now when it has none). A constant; to take it from the event use time.form instead.
//	hash.buckets                      int        64        With hash.key: keys are rounded down to this many ranges (a power of two, 1 to 256), so logs of many keys share LogGroups; shards split on these boundaries keep each key on one shard.
//	compression                       string     lz4       How PutLogs bodies are compressed. One of: lz4, zstd, none.
//	batch.count                       int        4096      Most logs in one LogGroup (one PutLogs call).
//	batch.bytes                       int        1048576   Most bytes of logs in one LogGroup; a larger log goes alone (SLS takes at most 5 MiB).
//	send.parallelism                  int        4         PutLogs calls in flight at once; the logs of one record key (one hash key) always go one call after another.
var Sink = api.SinkPlugin{
	Name:     "sls",
	Summary:  "Writes events as logs to an Alibaba Cloud Log Service (SLS) logstore with PutLogs: the event flattened into keys, its data, or a map of keys to templates (EventBridge's ContentSchema).",
	Spec:     sinkSpec,
	New:      newSink,
	Validate: validate,
}

// SLS's bounds.
const (
	maxLogGroupBytes = 5 << 20 // one LogGroup
	maxLogGroupCount = 4096    // logs in one PutLogs
	maxTopicBytes    = 512     // Ferry's bound on a rendered __topic__ or __source__
)

// The parameters that may come from each event.
var (
	topicParam = template.ParamSpec{Name: "topic",
		Description: "The logs' __topic__; none when unset."}
	sourceParam = template.ParamSpec{Name: "source",
		Description: "The logs' __source__; none when unset (SLS then records the client's address)."}
	hashParam = template.ParamSpec{Name: "hash.key",
		Description: "Routes each log to the shard whose range holds the MD5 of this value, so one key's logs share a shard; unset or empty: shards take turns."}
	timeParam = template.ParamSpec{Name: "time",
		Description: "The log's time: unix seconds or RFC 3339; default the event's time (now when it has none)."}
)

var sinkSpec = func() api.Spec {
	s := append(api.Spec{}, connFields...)
	s = append(s, api.Spec{
		{Name: "project", Type: api.TypeString, Required: true, Check: checkProject,
			Description: "Project name."},
		{Name: "logstore", Type: api.TypeString, Required: true, Check: checkLogstore,
			Description: "Logstore name."},
		{Name: "contents", Type: api.TypeString, Default: contentsEvent, Enum: []string{contentsEvent, contentsData, contentsMap},
			Description: "event: every attribute as a key and the data flattened under data.; data: the data flattened, its members as keys; map: the keys set with contents.<key>=<constant> or contents.<key>.form/.value/.template (EventBridge's ContentSchema)."},
		{Name: "contents.", Prefix: true, Type: api.TypeString,
			Description: "With contents=map: contents.<key>=<constant> sets log key <key>; contents.<key>.form, .value and .template take it from the event. At most 128 keys."},
	}...)
	s = append(s, topicParam.Fields()...)
	s = append(s, sourceParam.Fields()...)
	s = append(s, hashParam.Fields()...)
	s = append(s, timeParam.Fields()...)
	return append(s, api.Spec{
		{Name: "hash.buckets", Type: api.TypeInt, Default: "64", Check: checkBuckets,
			Description: "With hash.key: keys are rounded down to this many ranges (a power of two, 1 to 256), so logs of many keys share LogGroups; shards split on these boundaries keep each key on one shard."},
		{Name: "compression", Type: api.TypeString, Default: "lz4", Enum: []string{"lz4", "zstd", "none"},
			Description: "How PutLogs bodies are compressed."},
		{Name: "batch.count", Type: api.TypeInt, Default: strconv.Itoa(maxLogGroupCount), Check: api.Range(1, maxLogGroupCount),
			Description: "Most logs in one LogGroup (one PutLogs call)."},
		{Name: "batch.bytes", Type: api.TypeInt, Default: strconv.Itoa(1 << 20), Check: api.Range(1024, maxLogGroupBytes),
			Description: "Most bytes of logs in one LogGroup; a larger log goes alone (SLS takes at most 5 MiB)."},
		{Name: "send.parallelism", Type: api.TypeInt, Default: "4", Check: api.Range(1, 64),
			Description: "PutLogs calls in flight at once; the logs of one record key (one hash key) always go one call after another."},
	}...)
}()

var (
	projectName  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	logstoreName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,61}[a-z0-9]$`)
)

func checkProject(v string) error {
	if !projectName.MatchString(v) {
		return fmt.Errorf("must be 3 to 63 lower-case letters, digits and '-', starting and ending with a letter or digit, got %q", alicloud.Truncate(v))
	}
	return nil
}

func checkLogstore(v string) error {
	if !logstoreName.MatchString(v) {
		return fmt.Errorf("must be 2 to 63 lower-case letters, digits, '_' and '-', starting and ending with a letter or digit, got %q", alicloud.Truncate(v))
	}
	return nil
}

func checkBuckets(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 256 || bits.OnesCount(uint(n)) != 1 {
		return fmt.Errorf("must be a power of two from 1 to 256, got %q", alicloud.Truncate(v))
	}
	return nil
}

// validate checks what spans several fields.
func validate(c api.Config) error {
	fields := alicloud.ValidateSignature(c)
	for _, p := range []template.ParamSpec{topicParam, sourceParam, hashParam, timeParam} {
		compiled, err := p.Compile(c)
		if err != nil {
			fields = append(fields, fieldErrors(err, p.Name)...)
			continue
		}
		if v, ok := compiled.Constant(); ok && p.Name == timeParam.Name {
			if _, _, err := parseTime(v); err != nil {
				fields = append(fields, api.FieldError{Field: p.Name, Message: err.Error()})
			}
		}
	}
	_, errs := compileContents(c)
	fields = append(fields, errs...)
	if fields != nil {
		return &api.ValidationError{Fields: fields}
	}
	return nil
}

type sink struct {
	log         *slog.Logger
	conn        conn
	project     string
	logstore    string
	contents    *contents
	topic       *template.Param
	source      *template.Param
	hash        *template.Param
	time        *template.Param
	buckets     int
	compress    int
	batchCount  int
	batchBytes  int
	parallelism int
	now         func() time.Time

	tr     *transport
	client *aliyun.Client
	// resume skips, on the engine's retry of a failed Write, the records
	// that Write stored.
	resume kit.Resume
	arena  arena
}

func newSink(tc api.TaskConfig) (api.Sink, error) {
	if err := validate(tc.Config); err != nil {
		return nil, err
	}
	c := tc.Config
	s := &sink{
		log:         tc.Logger,
		conn:        connOf(c),
		project:     c.String("project"),
		logstore:    c.String("logstore"),
		buckets:     c.Int("hash.buckets"),
		batchCount:  c.Int("batch.count"),
		batchBytes:  c.Int("batch.bytes"),
		parallelism: c.Int("send.parallelism"),
		now:         time.Now,
	}
	s.contents, _ = compileContents(c)
	s.topic, _ = topicParam.Compile(c)
	s.source, _ = sourceParam.Compile(c)
	s.hash, _ = hashParam.Compile(c)
	s.time, _ = timeParam.Compile(c)
	switch c.String("compression") {
	case "zstd":
		s.compress = aliyun.Compress_ZSTD
	case "none":
		s.compress = aliyun.Compress_None
	default:
		s.compress = aliyun.Compress_LZ4
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// Open builds the client and reads the logstore, which checks the
// endpoint, the credentials, the project and the logstore at once.
func (s *sink) Open(ctx context.Context) error {
	s.tr = newTransport(s.conn.Connect, s.conn.Timeout)
	s.client = s.conn.client(s.tr)
	s.tr.Use(ctx)
	defer s.tr.Release()
	if _, err := s.client.GetLogStore(s.project, s.logstore); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return triage.Mark(fmt.Errorf("sls sink: %s/%s at %s: %w", s.project, s.logstore, s.conn.Endpoint, explain(err)))
	}
	return nil
}

// entry is one encoded record.
type entry struct {
	index               int // in the Write's batch
	log                 *aliyun.Log
	size                int    // estimated encoded bytes
	group               string // topic, source and hash key: what must share a LogGroup
	topic, source, hash string
	part                uint64 // orders sends: one part's logs go one call after another
	sec, nsec           uint32
}

// Write stores every record before it returns: logs are grouped by topic,
// source and hash key into LogGroups of at most batch.count logs and
// batch.bytes bytes, one PutLogs call each; up to send.parallelism calls
// run at once, and the logs of one record key (or hash key) go one call
// after another. A log SLS refuses for its content is rejected alone (a
// refused LogGroup is split until the culprits are found); any other
// failure makes Write retryable, and the engine's retry skips what this
// Write stored (kit.Resume).
func (s *sink) Write(ctx context.Context, records []api.Record) error {
	s.tr.Use(ctx)
	defer s.tr.Release()
	return s.resume.Write(records, func() error { return s.write(ctx, records) })
}

func (s *sink) write(ctx context.Context, records []api.Record) error {
	var bad api.RecordErrors
	s.arena.reset(len(records))
	entries := make([]entry, 0, len(records))
	var buf []byte
	for i := range records {
		if s.resume.Skip(records, i) {
			continue
		}
		var e entry
		var err error
		e, buf, err = s.encode(i, &records[i], buf)
		if err != nil {
			bad = append(bad, kit.Reject(i, fmt.Errorf("sls sink: %w", err)))
			continue
		}
		entries = append(entries, e)
	}
	parts := kit.PartitionByKey(entries, s.parallelism, func(e *entry) uint64 { return e.part })
	rejected, err := kit.RunParallel(ctx, parts, s.parallelism, s.sendPart)
	return kit.WriteResult(ctx, append(bad, rejected...), err)
}

// arena holds the logs of one Write: the SDK's protobuf types are all
// pointers, so its logs, contents and the values they point to are taken
// from slices reused from Write to Write rather than allocated one by one.
// An element is filled once and only read after; a slice that grows
// leaves the elements already handed out where they were, still valid.
type arena struct {
	logs     []aliyun.Log
	times    []uint32
	pairs    []pair
	contents []aliyun.LogContent
	ptrs     []*aliyun.LogContent
}

// reset readies the arena for a Write of n records; what the previous
// Write handed out is no longer in use.
func (a *arena) reset(n int) {
	a.logs, a.times, a.pairs = a.logs[:0], a.times[:0], a.pairs[:0]
	a.contents, a.ptrs = a.contents[:0], a.ptrs[:0]
	if cap(a.logs) < n {
		a.logs = make([]aliyun.Log, 0, n)
		a.times = make([]uint32, 0, 2*n)
	}
}

// u32 is a pointer to a fresh uint32 holding v.
func (a *arena) u32(v uint32) *uint32 {
	a.times = append(a.times, v)
	return &a.times[len(a.times)-1]
}

// log makes a log of the pairs from first on.
func (a *arena) log(sec, nsec uint32, first int) *aliyun.Log {
	pairs := a.pairs[first:]
	c0, p0 := len(a.contents), len(a.ptrs)
	for j := range pairs {
		a.contents = append(a.contents, aliyun.LogContent{Key: &pairs[j].key, Value: &pairs[j].value})
	}
	for j := range pairs {
		a.ptrs = append(a.ptrs, &a.contents[c0+j])
	}
	a.logs = append(a.logs, aliyun.Log{Time: a.u32(sec), Contents: a.ptrs[p0:len(a.ptrs):len(a.ptrs)]})
	l := &a.logs[len(a.logs)-1]
	if nsec != 0 {
		l.TimeNs = a.u32(nsec)
	}
	return l
}

// encode makes one record's log.
func (s *sink) encode(i int, r *api.Record, buf []byte) (entry, []byte, error) {
	ev := &r.Event
	e := entry{index: i}
	a := &s.arena
	first := len(a.pairs)
	var err error
	a.pairs, buf, err = s.contents.pairs(ev, a.pairs, buf)
	if err == nil && len(a.pairs)-first > maxKeys {
		err = fmt.Errorf("%w: %d keys, at most %d", errTooManyKeys, len(a.pairs)-first, maxKeys)
	}
	if err == nil {
		e, buf, err = s.encodeRest(e, ev, a.pairs[first:], buf)
	}
	if err != nil {
		a.pairs = a.pairs[:first]
		return e, buf, err
	}
	e.log = a.log(e.sec, e.nsec, first)
	switch {
	case e.hash != "":
		e.part = fnv64(e.group)
	case len(r.Key) > 0:
		e.part = fnv64(r.Key)
	default:
		e.part = fnv64(ev.ID)
	}
	return e, buf, nil
}

// encodeRest reads the time, topic, source and hash key of a log of
// pairs, and checks its size.
func (s *sink) encodeRest(e entry, ev *api.Event, pairs []pair, buf []byte) (entry, []byte, error) {
	var err error
	if s.time.IsSet() {
		if buf, err = s.time.Render(ev, buf[:0]); err != nil {
			return e, buf, err
		}
		if e.sec, e.nsec, err = parseTime(string(buf)); err != nil {
			return e, buf, err
		}
	} else {
		t := ev.Time
		if t.IsZero() {
			t = s.now()
		}
		if e.sec, e.nsec, err = logTime(t); err != nil {
			return e, buf, err
		}
	}
	if e.topic, buf, err = renderField(s.topic, ev, buf); err != nil {
		return e, buf, err
	}
	if e.source, buf, err = renderField(s.source, ev, buf); err != nil {
		return e, buf, err
	}
	if s.hash.IsSet() {
		if buf, err = s.hash.Render(ev, buf[:0]); err != nil {
			return e, buf, err
		}
		if len(buf) > 0 {
			e.hash = bucketKey(buf, s.buckets)
		}
	}
	size := 16
	for j := range pairs {
		size += len(pairs[j].key) + len(pairs[j].value) + 8
	}
	if size > maxLogGroupBytes {
		return e, buf, fmt.Errorf("%w: about %d bytes, a LogGroup takes at most %d", errTooLarge, size, maxLogGroupBytes)
	}
	e.size = size
	if e.topic != "" || e.source != "" || e.hash != "" {
		e.group = e.topic + "\x00" + e.source + "\x00" + e.hash
	}
	return e, buf, nil
}

// fnv64 is the FNV-1a hash of v.
func fnv64[T string | []byte](v T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(v); i++ {
		h ^= uint64(v[i])
		h *= 1099511628211
	}
	return h
}

// renderField renders a topic or source, bounded.
func renderField(p *template.Param, ev *api.Event, buf []byte) (string, []byte, error) {
	if !p.IsSet() {
		return "", buf, nil
	}
	if v, ok := p.Constant(); ok && len(v) <= maxTopicBytes {
		return v, buf, nil
	}
	buf, err := p.Render(ev, buf[:0])
	if err != nil {
		return "", buf, err
	}
	if len(buf) > maxTopicBytes {
		return "", buf, fmt.Errorf("%w: %s renders to %d bytes, at most %d", errField, p.Name(), len(buf), maxTopicBytes)
	}
	return string(buf), buf, nil
}

// parseTime reads unix seconds or an RFC 3339 time.
func parseTime(v string) (sec, nsec uint32, err error) {
	if n, perr := strconv.ParseInt(v, 10, 64); perr == nil {
		if n < 0 || n > math.MaxUint32 {
			return 0, 0, fmt.Errorf("%w: %d is outside unix seconds 0 to %d", errTime, n, uint32(math.MaxUint32))
		}
		return uint32(n), 0, nil
	}
	t, perr := time.Parse(time.RFC3339Nano, v)
	if perr != nil {
		return 0, 0, fmt.Errorf("%w: %q is neither unix seconds nor RFC 3339", errTime, alicloud.Truncate(v))
	}
	return logTime(t)
}

func logTime(t time.Time) (sec, nsec uint32, err error) {
	if u := t.Unix(); u < 0 || u > math.MaxUint32 {
		return 0, 0, fmt.Errorf("%w: %s is outside what a log's time holds", errTime, t.Format(time.RFC3339))
	}
	return uint32(t.Unix()), uint32(t.Nanosecond()), nil
}

// bucketKey is the hash key of v: its MD5 rounded down to one of buckets
// equal ranges, as 32 hex digits (SLS's shard ranges are MD5 ranges).
func bucketKey(v []byte, buckets int) string {
	sum := md5.Sum(v)
	width := 256 / buckets
	first := int(sum[0]) / width * width
	return fmt.Sprintf("%02x", first) + strings.Repeat("0", 30)
}

// sendPart sends one part's logs: those of one group in order, in
// LogGroups of at most batch.count logs and batch.bytes bytes, stopping at
// the first failure that is not a refused log.
func (s *sink) sendPart(ctx context.Context, entries []entry) (api.RecordErrors, error) {
	slices.SortStableFunc(entries, func(a, b entry) int { return cmp.Compare(a.group, b.group) })
	var bad api.RecordErrors
	for len(entries) > 0 {
		if err := ctx.Err(); err != nil {
			return bad, err
		}
		n, size := 0, 0
		for n < len(entries) && n < s.batchCount && entries[n].group == entries[0].group &&
			(n == 0 || size+entries[n].size <= s.batchBytes) {
			size += entries[n].size
			n++
		}
		rejected, err := s.put(entries[:n])
		bad = append(bad, rejected...)
		if err != nil {
			return bad, err
		}
		entries = entries[n:]
	}
	return bad, nil
}

// put writes entries (one group) as one LogGroup. When SLS refuses the
// group for its content, the halves are sent apart until the refused logs
// are found and rejected alone.
func (s *sink) put(entries []entry) (api.RecordErrors, error) {
	lg := &aliyun.LogGroup{Logs: make([]*aliyun.Log, len(entries))}
	for i := range entries {
		lg.Logs[i] = entries[i].log
	}
	first := &entries[0]
	if first.topic != "" {
		lg.Topic = proto.String(first.topic)
	}
	if first.source != "" {
		lg.Source = proto.String(first.source)
	}
	req := &aliyun.PostLogStoreLogsRequest{LogGroup: lg, CompressType: s.compress}
	if first.hash != "" {
		req.HashKey = proto.String(first.hash)
	}
	err := s.client.PostLogStoreLogsV2(s.project, s.logstore, req)
	if err == nil {
		for _, e := range entries {
			s.resume.Stored(e.index)
		}
		return nil, nil
	}
	switch triage.Classify(err) {
	case kit.RecordFault:
		if len(entries) == 1 {
			return api.RecordErrors{kit.Reject(first.index, fmt.Errorf("sls sink: %w: %w", errRefused, err))}, nil
		}
		mid := len(entries) / 2
		bad, err := s.put(entries[:mid])
		if err != nil {
			return bad, err
		}
		more, err := s.put(entries[mid:])
		return append(bad, more...), err
	}
	return nil, triage.Mark(fmt.Errorf("sls sink: put %d logs to %s/%s: %w", len(entries), s.project, s.logstore, explain(err)))
}

// Close closes idle connections; Write does not return before its calls
// do.
func (s *sink) Close(context.Context) error {
	if s.tr != nil {
		s.tr.close()
	}
	s.tr, s.client = nil, nil
	return nil
}
