package sls

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/connectors/kit/alicloud"
)

// Source is the sls source plugin. Its settings, under source.:
//
//	field                   type      default   description
//	endpoint                string    required  The region's SLS endpoint, such as cn-hangzhou.log.aliyuncs.com or https://cn-hangzhou-intranet.log.aliyuncs.com (http unless https:// is given); the SDK puts the project in front of it.
//	access.key.id           string    required  AccessKey ID (of a RAM user or of STS credentials).
//	access.key.secret       string    required  AccessKey secret. Secret.
//	security.token          string    -         STS security token, with temporary access keys. Secret.
//	signature.version       string    v1        Request signature: v1 (HMAC-SHA1) or v4 (HMAC-SHA256, needs region). One of: v1, v4.
//	region                  string    -         Region id such as cn-hangzhou; required with signature.version=v4.
//	connect.address         string    -         host:port to connect to instead of the endpoint's host (a proxy, a private link, an emulator); requests still name the endpoint, and HTTPS still verifies its name.
//	request.timeout         duration  30s       Time one request may take.
//	project                 string    required  Project name.
//	logstore                string    required  Logstore name.
//	consumer.group          string    -         Consumer group the committed positions are written to as checkpoints, so SLS's console shows progress (created if missing); default ferry-<connector>. Ferry assigns shards itself: the group never has live consumers.
//	checkpoint.interval     duration  5s        How often committed positions are written to the consumer group (also when the task stops, and before a drained read-only shard is let go).
//	start                   string    begin     Where a shard with no stored position and no consumer-group checkpoint starts, on the connector's first run: begin, end or time:<unix-s> (the first log group received at or after it). Shards that appear later are read from their beginning.
//	stop.time               int       -         Unix seconds: read only the log groups received before this time, then finish (a bounded backfill); unset reads forever.
//	query                   string    -         SPL statement SLS runs on each pull before sending the logs (a consumer processor's filter), such as * | where level = 'error' | project level, msg; unset reads every log.
//	account.id              string    -         Alibaba Cloud account id, for the events' subject (acs:log:<region>:<account>:project/<p>/logstore/<l>).
//	fetch.count             int       1000      Most log groups one PullLogs call asks for.
//	fetch.max.bytes         int       16777216  Most uncompressed bytes one PullLogs answer should hold: the number of log groups asked for is cut to fit the sizes seen so far (a single log group larger than this is still read).
//	fetch.idle.interval     duration  500ms     How long a shard at its end waits before it is asked again.
//	batch.size              int       4096      Most events one Read returns.
//	shard.refresh.interval  duration  30s       Longest time before new shards (a split or merge) are read and read-only ones are noticed.
//
// docs/sls-source.md is the user's guide: ownership, positions and
// checkpoints, split and merged shards, the event shape.
var Source = api.SourcePlugin{
	Name:     "sls",
	Summary:  "Reads an Alibaba Cloud Log Service (SLS) logstore as EventBridge's SLS events (a log a event), shards split over the tasks; progress written to a consumer group's checkpoints.",
	Spec:     sourceSpec,
	New:      newSource,
	Validate: validateSource,
	// No Plan: every task gets the same settings and reads the shards
	// kit.Owner gives it, re-evaluated on the live shard list.
}

// EventType is the type of every event, as EventBridge's SLS source
// publishes it.
const EventType = "sls:connector"

// dataContentType is EventBridge's for SLS events.
const dataContentType = "application/json;charset=utf-8"

const (
	maxGroupNameLen = 128
	maxAccountLen   = 32
	// maxFetchCount is SLS's cap on log groups per PullLogs.
	maxFetchCount = 1000
	// maxStopTime is the largest time a log can carry (uint32 seconds).
	maxStopTime = 1<<32 - 1
	// clockMargin is how far the worker's clock may be from SLS's: a
	// stop.time is taken as passed only this long after it, so log
	// groups received just before it are not missed.
	clockMargin = 2 * time.Second
)

var sourceSpec = slices.Concat(connFields, api.Spec{
	{Name: "project", Type: api.TypeString, Required: true, Check: checkProject,
		Description: "Project name."},
	{Name: "logstore", Type: api.TypeString, Required: true, Check: checkLogstore,
		Description: "Logstore name."},
	{Name: "consumer.group", Type: api.TypeString, Check: checkGroupName,
		Description: "Consumer group the committed positions are written to as checkpoints, so SLS's console shows progress (created if missing); default ferry-<connector>. Ferry assigns shards itself: the group never has live consumers."},
	{Name: "checkpoint.interval", Type: api.TypeDuration, Default: "5s", Check: api.DurationRange(100*time.Millisecond, time.Hour),
		Description: "How often committed positions are written to the consumer group (also when the task stops, and before a drained read-only shard is let go)."},
	{Name: "start", Type: api.TypeString, Default: "begin", Check: checkStartSetting,
		Description: "Where a shard with no stored position and no consumer-group checkpoint starts, on the connector's first run: begin, end or time:<unix-s> (the first log group received at or after it). Shards that appear later are read from their beginning."},
	{Name: "stop.time", Type: api.TypeInt, Check: api.Range(1, maxStopTime),
		Description: "Unix seconds: read only the log groups received before this time, then finish (a bounded backfill); unset reads forever."},
	{Name: "query", Type: api.TypeString, Check: checkQuery,
		Description: "SPL statement SLS runs on each pull before sending the logs (a consumer processor's filter), such as * | where level = 'error' | project level, msg; unset reads every log."},
	{Name: "account.id", Type: api.TypeString, Check: checkAccount,
		Description: "Alibaba Cloud account id, for the events' subject (acs:log:<region>:<account>:project/<p>/logstore/<l>)."},
	{Name: "fetch.count", Type: api.TypeInt, Default: strconv.Itoa(maxFetchCount), Check: api.Range(1, maxFetchCount),
		Description: "Most log groups one PullLogs call asks for."},
	{Name: "fetch.max.bytes", Type: api.TypeInt, Default: "16777216", Check: api.Range(64<<10, 256<<20),
		Description: "Most uncompressed bytes one PullLogs answer should hold: the number of log groups asked for is cut to fit the sizes seen so far (a single log group larger than this is still read)."},
	{Name: "fetch.idle.interval", Type: api.TypeDuration, Default: "500ms", Check: api.DurationRange(10*time.Millisecond, time.Minute),
		Description: "How long a shard at its end waits before it is asked again."},
	{Name: "batch.size", Type: api.TypeInt, Default: "4096", Check: api.Range(1, 1<<20),
		Description: "Most events one Read returns."},
	{Name: "shard.refresh.interval", Type: api.TypeDuration, Default: "30s", Check: api.DurationRange(time.Second, time.Hour),
		Description: "Longest time before new shards (a split or merge) are read and read-only ones are noticed."},
})

var (
	groupName   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,126}[a-z0-9]$`)
	accountName = regexp.MustCompile(`^[0-9]{1,32}$`)
)

func checkGroupName(v string) error {
	if !groupName.MatchString(v) {
		return fmt.Errorf("must be 2 to %d lower-case letters, digits, '_' and '-', starting and ending with a letter or digit, got %q", maxGroupNameLen, alicloud.Truncate(v))
	}
	return nil
}

func checkAccount(v string) error {
	if !accountName.MatchString(v) {
		return fmt.Errorf("must be 1 to %d digits, got %q", maxAccountLen, alicloud.Truncate(v))
	}
	return nil
}

// startMode is a parsed start setting.
type startMode struct {
	kind string // begin, end, time
	unix int64
}

// from is the GetCursor argument of m.
func (m startMode) from() string {
	if m.kind == "time" {
		return strconv.FormatInt(m.unix, 10)
	}
	return m.kind
}

func parseStartSetting(v string) (startMode, error) {
	switch v {
	case "begin", "end":
		return startMode{kind: v}, nil
	}
	if rest, ok := strings.CutPrefix(v, "time:"); ok {
		t, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || t < 0 || t > maxStopTime {
			return startMode{}, fmt.Errorf("time:%s: want seconds since 1970 in [0, %d]", alicloud.Truncate(rest), int64(maxStopTime))
		}
		return startMode{kind: "time", unix: t}, nil
	}
	return startMode{}, fmt.Errorf("%q: want begin, end or time:<unix-s>", alicloud.Truncate(v))
}

func checkStartSetting(v string) error { _, err := parseStartSetting(v); return err }

// maxQueryLen bounds source.query.
const maxQueryLen = 4096

// checkQuery accepts an SPL statement: it starts with * (SLS parses the
// rest, and refuses what it cannot run at the first pull).
func checkQuery(v string) error {
	if len(v) > maxQueryLen {
		return fmt.Errorf("is longer than %d bytes", maxQueryLen)
	}
	if q := strings.TrimSpace(v); q != "" && !strings.HasPrefix(q, "*") {
		return fmt.Errorf("must be an SPL statement starting with *, such as * | where level = 'error', got %q", alicloud.Truncate(v))
	}
	return nil
}

// validateSource checks what spans several fields.
func validateSource(c api.Config) error {
	fields := alicloud.ValidateSignature(c)
	if c.Has("stop.time") {
		if m, err := parseStartSetting(c.String("start")); err == nil && m.kind == "time" && m.unix >= int64(c.Int("stop.time")) {
			fields = append(fields, api.FieldError{Field: "stop.time", Message: "is not after start's time"})
		}
	}
	if fields != nil {
		return &api.ValidationError{Fields: fields}
	}
	return nil
}

type source struct {
	tc        api.TaskConfig
	log       *slog.Logger
	conn      conn
	project   string
	logstore  string
	stream    string // <project>/<logstore>: kit.Owner's stream, partition names' prefix
	group     string
	consumer  string
	start     startMode
	stopTime  int64  // 0: none
	query     string // SPL run on each pull; "" for none
	fetchN    int
	fetchMax  int
	idle      time.Duration
	batch     int
	refresh   time.Duration
	publishN  time.Duration
	evSource  string
	subject   string
	firstRun  bool
	committed map[string]position // from TaskConfig, parsed

	tr     *transport
	client *aliyun.Client

	// The reader's state: Open, Read and Close run one at a time.
	shards      map[int]*shardState
	order       []*shardState // owned, unreleased shards by id: the pull order
	turn        int           // index in order of the next shard to pull
	checkpoints map[int]string
	cur         *pull // the answer being turned into events
	nextRefresh time.Time
	nextPublish time.Time
	refreshedAt time.Time
	opened      bool
	bufs        batchBufs

	// Progress holds the committed positions not yet checkpointed and the
	// lag, which the engine's Committed and Lag calls share with the
	// reader.
	kit.Progress
	// mu guards acked, which Committed shares with the reader.
	mu    sync.Mutex
	acked map[string]string // latest committed position per partition
}

func newSource(tc api.TaskConfig) (api.Source, error) {
	c := tc.Config
	start, err := parseStartSetting(c.String("start"))
	if err != nil {
		return nil, api.Fatal(fmt.Errorf("sls source: start: %w", err))
	}
	s := &source{
		tc:        tc,
		log:       tc.Logger,
		conn:      connOf(c),
		project:   c.String("project"),
		logstore:  c.String("logstore"),
		group:     cmp.Or(c.String("consumer.group"), "ferry-"+groupSafe(tc.Connector)),
		consumer:  fmt.Sprintf("ferry-%s-%d", tc.Connector, tc.Task),
		start:     start,
		fetchN:    c.Int("fetch.count"),
		query:     strings.TrimSpace(c.String("query")),
		fetchMax:  c.Int("fetch.max.bytes"),
		idle:      c.Duration("fetch.idle.interval"),
		batch:     c.Int("batch.size"),
		refresh:   c.Duration("shard.refresh.interval"),
		publishN:  c.Duration("checkpoint.interval"),
		shards:    map[int]*shardState{},
		committed: map[string]position{},
		acked:     map[string]string{},
	}
	if c.Has("stop.time") {
		s.stopTime = int64(c.Int("stop.time"))
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.stream = s.project + "/" + s.logstore
	s.evSource = "acs:sls:" + s.stream
	s.subject = fmt.Sprintf("acs:log:%s:%s:project/%s/logstore/%s", cmp.Or(s.conn.Region, regionOf(s.conn.Endpoint)), c.String("account.id"), s.project, s.logstore)
	// Every stored position is checked now, so a corrupt one (an
	// operator's offset alter, say) fails the task before it reads.
	for name, pos := range tc.Committed {
		id, ok := s.shardOf(name)
		if !ok {
			continue // another logstore's, from before a config change
		}
		p, err := parsePosition(pos)
		if err != nil {
			return nil, api.Fatal(fmt.Errorf("sls source: %w: shard %d: %v", errBadPosition, id, err))
		}
		s.committed[name] = p
	}
	return s, nil
}

// groupSafe makes a connector name fit a consumer group name.
func groupSafe(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			b[i] = '-'
		}
	}
	out := strings.TrimRight(string(b), "-_")
	if len(out) > maxGroupNameLen-len("ferry-") {
		out = strings.TrimRight(out[:maxGroupNameLen-len("ferry-")], "-_")
	}
	return cmp.Or(out, "connector")
}

// regionOf reads the region from an SLS endpoint such as
// cn-hangzhou.log.aliyuncs.com or cn-hangzhou-intranet.log.aliyuncs.com;
// "" for any other host.
func regionOf(endpoint string) string {
	host := endpoint
	for _, p := range []string{"http://", "https://"} {
		host = strings.TrimPrefix(host, p)
	}
	first, rest, ok := strings.Cut(host, ".")
	if !ok || !strings.HasPrefix(rest, "log.aliyuncs.com") {
		return ""
	}
	for _, sfx := range []string{"-intranet", "-vpc", "-share"} {
		first = strings.TrimSuffix(first, sfx)
	}
	if alicloud.CheckRegion(first) != nil {
		return ""
	}
	return first
}

func (s *source) Open(ctx context.Context) error {
	s.tr = newTransport(s.conn.Connect, s.conn.Timeout)
	s.tr.answerCancel = true
	s.tr.timeout = s.conn.Timeout
	s.client = s.conn.client(s.tr)
	// The transport applies the timeout (see transport.timeout).
	s.client.SetHTTPClient(&http.Client{Transport: s.tr})
	s.tr.Use(ctx)
	defer s.tr.Release()
	if err := s.open(ctx); err != nil {
		// The engine closes only a source that opened.
		s.tr.close()
		return err
	}
	s.opened = true
	s.nextPublish = time.Now().Add(s.publishN)
	return nil
}

func (s *source) open(ctx context.Context) error {
	list, err := s.client.ListShards(s.project, s.logstore)
	if err != nil {
		return s.fail(ctx, "list shards", err)
	}
	if err := s.ensureGroup(ctx); err != nil {
		return err
	}
	cps, err := s.client.GetCheckpoint(s.project, s.logstore, s.group)
	if err != nil {
		return s.fail(ctx, "read the consumer group's checkpoints", err)
	}
	s.checkpoints = map[int]string{}
	for _, cp := range cps {
		if cp.CheckPoint != "" {
			s.checkpoints[cp.ShardID] = cp.CheckPoint
		}
	}
	s.firstRun = len(s.committed) == 0 && len(s.checkpoints) == 0
	return s.applyShards(ctx, list)
}

// fail makes the error of a failed call: ctx's own when it is done, else
// the call's, explained and classified.
func (s *source) fail(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return sourceTriage.Mark(fmt.Errorf("sls source: %s of %s at %s: %w", what, s.stream, s.conn.Endpoint, explainSource(err)))
}

func (s *source) Read(ctx context.Context) ([]api.Record, error) {
	s.tr.Use(ctx)
	defer s.tr.Release()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.cur != nil {
			recs, err := s.events()
			if err != nil || len(recs) > 0 {
				return recs, err
			}
		}
		now := time.Now()
		if !now.Before(s.nextPublish) {
			s.publish()
			s.nextPublish = now.Add(s.publishN)
		}
		if !now.Before(s.nextRefresh) {
			if err := s.refreshShards(ctx); err != nil {
				return nil, err
			}
		}
		s.release()
		if s.finished() {
			return nil, api.ErrEndOfInput
		}
		sh, wait := s.nextShard(time.Now())
		if sh == nil {
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		if err := s.pullShard(ctx, sh); err != nil {
			return nil, err
		}
	}
}

// nextShard picks the next shard to pull, round-robin over the owned ones
// that are not drained nor idle; with none, it returns how long to wait.
func (s *source) nextShard(now time.Time) (*shardState, time.Duration) {
	wait := min(time.Until(s.nextRefresh), time.Until(s.nextPublish))
	for i := range s.order {
		sh := s.order[(s.turn+i)%len(s.order)]
		if sh.drained {
			continue
		}
		if at := sh.notBefore(s.stopTime); now.Before(at) {
			wait = min(wait, at.Sub(now))
			continue
		}
		s.turn = (s.turn + i + 1) % len(s.order)
		return sh, 0
	}
	return nil, max(wait, time.Millisecond)
}

// finished reports whether a bounded backfill is over: stop.time has
// passed, the shard list has been read since, and every owned shard has
// been read up to it.
func (s *source) finished() bool {
	if s.stopTime == 0 || s.refreshedAt.Before(time.Unix(s.stopTime, 0).Add(clockMargin)) {
		return false
	}
	for _, sh := range s.order {
		if !sh.drained {
			return false
		}
	}
	return true
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

// Close writes the committed positions to the consumer group (the engine
// reports its last commit before it closes) and releases the connections.
func (s *source) Close(ctx context.Context) error {
	if s.tr == nil {
		return nil
	}
	s.tr.Use(ctx)
	s.publish()
	s.tr.Release()
	s.tr.close()
	return nil
}

// Committed implements api.CommitListener: the positions are written to
// the consumer group by the next publish (Read's timer, a drained shard's
// release, or Close).
func (s *source) Committed(positions map[string]api.Position) {
	s.Progress.Committed(positions)
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, pos := range positions {
		s.acked[name] = string(pos)
	}
}

// ensureGroup creates the consumer group unless it exists.
func (s *source) ensureGroup(ctx context.Context) error {
	err := s.client.CreateConsumerGroup(s.project, s.logstore, aliyun.ConsumerGroup{ConsumerGroupName: s.group, Timeout: 60})
	if err == nil || sourceCode(err) == "ConsumerGroupAlreadyExist" {
		return nil
	}
	return s.fail(ctx, "create consumer group "+s.group, err)
}
