package worker

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/trace"
)

// Keys of the connector config envelope: the settings the worker reads
// itself. Everything else lives under a plugin's prefix.
const (
	keyName           = "name"
	keySource         = "source"
	keySink           = "sink"
	keyTransforms     = "transforms"
	keyPredicates     = "predicates"
	keyTasksMax       = "tasks.max"
	keyTolerance      = "errors.tolerance"
	keyRetryTimeout   = "errors.retry.timeout"
	keyRetryDelayMax  = "errors.retry.delay.max.ms"
	keyRetryStrategy  = "errors.retry.strategy"
	keyRetryAttempts  = "errors.retry.max.attempts"
	keyRetryMaxAge    = "errors.retry.max.age.ms"
	keyDLQFormat      = "errors.deadletterqueue.format"
	keyLogEnable      = "errors.log.enable"
	keyDLQSink        = "errors.deadletterqueue.sink"
	keyBatchSize      = "batch.size"
	keyBatchRecords   = "batch.max.records"
	keyBatchWait      = "batch.max.wait.ms"
	keyBufferRecords  = "buffer.max.records"
	keyBufferBytes    = "buffer.max.bytes"
	keyCommitInterval = "offset.flush.interval.ms"
	keyStopTimeout    = "task.shutdown.graceful.timeout.ms"
	keyTraceRate      = "trace.sample.rate"

	prefixSource     = "source."
	prefixSink       = "sink."
	prefixTransforms = "transforms."
	prefixPredicates = "predicates."
	prefixDLQ        = "errors.deadletterqueue.sink."

	// typeField names the plugin of a transform or predicate section
	// (transforms.<alias>.type, predicates.<alias>.type).
	typeField = "type"
	// A transform section's predicate and negate fields guard the step
	// with a predicate, as Kafka Connect's transforms.<alias>.predicate.
	predicateField = "predicate"
	negateField    = "negate"
)

// Groups of the validate endpoint, in display order.
const (
	groupCommon = "Common"
	groupErrors = "Errors"
	groupSource = "Source"
	groupSink   = "Sink"
	groupDLQ    = "Dead letter queue"
)

// Bounds of the envelope's sizes: a config may not ask the worker for more
// than it can hold, whatever the operator types (a tasks.max of 10⁸ once
// planned 10⁸ task configs and took the worker down at every start).
const (
	// MaxTasksPerConnector bounds tasks.max.
	MaxTasksPerConnector = 1024
	maxBatchSize         = 100_000
	// maxBufferRecords and maxBufferBytes bound a task's in-flight budget
	// (buffer.max.*): a million records or 1 GiB per task is more than
	// any pipeline needs to keep its sink busy.
	maxBufferRecords = 1_000_000
	maxBufferBytes   = 1 << 30
	// minBufferBytes is one large record's worth: a smaller budget would
	// stop the reader after every record.
	minBufferBytes = 64 << 10
	// maxBatchWait bounds batch.max.wait.ms: records waiting in the window
	// are not committed, so a long window replays much after a crash.
	maxBatchWait = 5 * time.Minute
	// maxRetryAttempts bounds errors.retry.max.attempts.
	maxRetryAttempts = 100_000
)

// envelopeSpec declares the envelope. The commit interval's default is the
// worker's, so it is built per worker.
func envelopeSpec(commitInterval time.Duration) api.Spec {
	return api.Spec{
		{Name: keyName, Type: api.TypeString, Required: true, Check: checkConnectorName,
			Description: "Unique name of the connector."},
		{Name: keySource, Type: api.TypeString, Required: true,
			Description: "Source plugin; its settings are source.<field>."},
		{Name: keyTransforms, Type: api.TypeList,
			Description: "Aliases of the transform chain, in order; each alias x has transforms.x.type and transforms.x.<field>."},
		{Name: keyPredicates, Type: api.TypeList,
			Description: "Aliases of predicates; each alias p has predicates.p.type and predicates.p.<field>; a transform step applies only where transforms.x.predicate=p holds (negated with transforms.x.negate=true)."},
		{Name: keySink, Type: api.TypeString, Required: true,
			Description: "Sink plugin; its settings are sink.<field>."},
		{Name: keyTasksMax, Type: api.TypeInt, Default: "1", Check: api.Range(1, MaxTasksPerConnector),
			Description: "Maximum number of tasks; a source that plans its tasks may create fewer."},
		{Name: keyBatchSize, Type: api.TypeInt, Default: "1024", Check: api.Range(1, maxBatchSize),
			Description: "Maximum number of records per sink write."},
		{Name: keyBatchRecords, Type: api.TypeInt, Default: "0", Check: api.Range(0, maxBufferRecords),
			Description: "Batch window: records wait between the chain and the sink until this many do (or batch.max.wait.ms passes), then are written together; 0 writes at once. At most buffer.max.records."},
		{Name: keyBatchWait, Type: api.TypeDuration, Default: "0", Check: api.DurationRange(0, maxBatchWait),
			Description: "Batch window: the longest a record waits for batch.max.records others before the window is written; 0 writes at once."},
		{Name: keyBufferRecords, Type: api.TypeInt, Default: strconv.Itoa(runtime.DefaultMaxInFlightRecords), Check: api.Range(1, maxBufferRecords),
			Description: "Most records a task holds read but not yet acknowledged; the source waits when it is reached. At least batch.size."},
		{Name: keyBufferBytes, Type: api.TypeInt, Default: strconv.Itoa(runtime.DefaultMaxInFlightBytes), Check: api.Range(minBufferBytes, maxBufferBytes),
			Description: "Most bytes of records a task holds read but not yet acknowledged (estimated per record)."},
		{Name: keyCommitInterval, Type: api.TypeDuration, Default: strconv.FormatInt(commitInterval.Milliseconds(), 10), Check: api.DurationRange(0, time.Hour),
			Description: "How often acknowledged source positions are committed (milliseconds or a duration)."},
		{Name: keyStopTimeout, Type: api.TypeDuration, Default: "10000", Check: api.DurationRange(0, 10*time.Minute),
			Description: "How long a task may take to stop softly (drain, flush, commit) before it is abandoned."},
		{Name: keyTraceRate, Type: api.TypeFloat, Default: strconv.FormatFloat(trace.DefaultSampleRate, 'g', -1, 64), Check: trace.CheckSampleRate,
			Description: "Share of events traced in full (GET /connectors/{name}/traces), chosen by a hash of the event id: 0 traces only failed events, 1 every event. Failed events are always traced."},
		{Name: keyTolerance, Type: api.TypeString, Default: string(runtime.ToleranceNone),
			Enum:        []string{string(runtime.ToleranceNone), string(runtime.ToleranceAll)},
			Description: "none fails the task on the first bad record; all skips bad records (to the dead-letter sink when one is set)."},
		{Name: keyRetryTimeout, Type: api.TypeDuration, Default: "300000", Check: checkRetryTimeout,
			Description: "How long a failing operation is retried before the task fails, as in Kafka Connect: 0 = no retries, -1 = until the task stops; while retrying, the task's status says so (health retrying)."},
		{Name: keyRetryDelayMax, Type: api.TypeDuration, Default: "30000", Check: api.DurationRange(0, time.Hour),
			Description: "Longest wait between two retries of the exponential strategy."},
		{Name: keyRetryStrategy, Type: api.TypeString, Default: string(runtime.StrategyExponential), Check: checkRetryStrategy,
			Description: "exponential (random waits doubling up to errors.retry.delay.max.ms), backoff (EventBridge's BACKOFF_RETRY: 3 retries 10–20 s apart) or exponential-decay (EXPONENTIAL_DECAY_RETRY: 1 s doubling to 512 s, up to 176 retries within a day); the EventBridge names are accepted. errors.retry.timeout's default applies to exponential only."},
		{Name: keyRetryAttempts, Type: api.TypeInt, Default: "0", Check: api.Range(0, maxRetryAttempts),
			Description: "Most retries of one failing operation; 0 leaves the strategy's own (3 for backoff, 176 for exponential-decay, none for exponential). A cap: it never raises a strategy's count."},
		{Name: keyRetryMaxAge, Type: api.TypeDuration, Default: "0", Check: api.DurationRange(0, maxRetryTimeout),
			Description: "Longest time one failing operation is retried (EventBridge's maximum event age); 0 leaves the strategy's and errors.retry.timeout's."},
		{Name: keyDLQFormat, Type: api.TypeString, Default: string(runtime.DeadLetterCloudEvent),
			Enum:        []string{string(runtime.DeadLetterCloudEvent), string(runtime.DeadLetterEnvelope)},
			Description: "cloudevent sends the original event with the error as ferryerror* extensions; envelope sends a JSON envelope (errorCode, errorMessage, retryAttempts, exhaustedRetryCondition, the original event) as AWS EventBridge's dead-letter record."},
		{Name: keyLogEnable, Type: api.TypeBool, Default: "false",
			Description: "Log every failed record (without its data)."},
		{Name: keyDLQSink, Type: api.TypeString,
			Description: "Sink plugin that receives records skipped under errors.tolerance=all; its settings are errors.deadletterqueue.sink.<field>."},
	}
}

// groupOf places an envelope key in the validate endpoint's groups.
func groupOf(key string) string {
	if strings.HasPrefix(key, "errors.") {
		return groupErrors
	}
	return groupCommon
}

// maxNameLen bounds connector names, in bytes: they travel in URLs,
// metric labels, log lines and store keys.
const maxNameLen = 200

func checkConnectorName(v string) error {
	switch {
	case v == "":
		return errors.New("must not be empty")
	case len(v) > maxNameLen:
		return fmt.Errorf("must be at most %d bytes long, got %d", maxNameLen, len(v))
	case !utf8.ValidString(v):
		return errors.New("must be valid UTF-8")
	case strings.TrimSpace(v) != v:
		return errors.New("must not begin or end with whitespace")
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return errors.New("must not contain control characters")
	case strings.ContainsAny(v, "/\\"):
		return errors.New("must not contain '/' or '\\'")
	case v == "." || v == "..":
		return errors.New(`must not be "." or ".."`)
	}
	return nil
}

// maxRetryTimeout bounds errors.retry.timeout: a week of retries is the
// most any outage should take before a task says FAILED.
const maxRetryTimeout = 7 * 24 * time.Hour

// checkRetryTimeout accepts Kafka Connect's errors.retry.timeout values:
// -1 (forever), 0 (none), or a bounded duration.
func checkRetryTimeout(v string) error {
	d := api.NewConfig(map[string]string{"d": v}).Duration("d")
	if d == -time.Millisecond {
		return nil
	}
	if api.DurationRange(0, maxRetryTimeout)(v) != nil {
		return fmt.Errorf("must be -1 (retry until the task stops), 0 (no retries) or a duration up to %v", maxRetryTimeout)
	}
	return nil
}

func checkRetryStrategy(v string) error {
	_, err := runtime.ParseStrategy(v)
	return err
}

// retryPolicy maps the errors.retry.* keys onto the runtime's policy.
// errors.retry.timeout keeps Kafka Connect's meaning; its default (not an
// explicit value) applies to the exponential strategy only, so that
// EventBridge's strategies keep their own limits. errors.retry.max.age.ms
// lowers whatever bound is left.
func retryPolicy(e api.Config, timeoutSet bool) runtime.Retry {
	strategy, _ := runtime.ParseStrategy(e.String(keyRetryStrategy))
	r := runtime.Retry{Strategy: strategy, Max: e.Duration(keyRetryDelayMax), MaxAttempts: e.Int(keyRetryAttempts)}
	switch timeout := e.Duration(keyRetryTimeout); {
	case timeout == 0:
		r.Disabled = true
	case timeout > 0 && (timeoutSet || strategy == runtime.StrategyExponential):
		r.Timeout = timeout
	}
	if age := e.Duration(keyRetryMaxAge); age > 0 && (r.Timeout == 0 || age < r.Timeout) {
		r.Timeout = age
	}
	return r
}

// checkBuffers reports contradictions between the batch and buffer
// sizes, which each key's own bounds cannot see.
func (v *validation) checkBuffers(cc *connectorConfig) {
	if cc.bufferRecords < cc.batchSize {
		v.fail(keyBufferRecords, fmt.Sprintf("must be at least %s (%d), got %d", keyBatchSize, cc.batchSize, cc.bufferRecords))
	}
	if cc.batchRecords > cc.bufferRecords {
		v.fail(keyBatchRecords, fmt.Sprintf("must be at most %s (%d), got %d: the window could never fill", keyBufferRecords, cc.bufferRecords, cc.batchRecords))
	}
	if (cc.batchRecords > 0) != (cc.batchWait > 0) {
		set, unset := keyBatchRecords, keyBatchWait
		if cc.batchWait > 0 {
			set, unset = keyBatchWait, keyBatchRecords
		}
		v.fail(set, fmt.Sprintf("has no effect while %s is 0 (write at once); set both for a batch window", unset))
	}
}

// section is one namespace of a connector config: the envelope (empty
// prefix) or one plugin's settings under its prefix.
type section struct {
	prefix string
	group  string
	spec   api.Spec
	check  func(api.Config) error // the plugin's Validate, if any
	raw    map[string]string      // keys relative to prefix
	parsed api.Config             // valid when the section had no errors
}

// transformStep is one parsed step of a connector's transform chain.
type transformStep struct {
	alias  string
	plugin api.TransformPlugin
	cfg    api.Config
	// predicate, when set, guards the step.
	predicate *predicateStep
	negate    bool
}

// predicateStep is one parsed predicate.
type predicateStep struct {
	alias  string
	plugin api.PredicatePlugin
	cfg    api.Config
}

// connectorConfig is a validated connector config.
type connectorConfig struct {
	name     string
	raw      map[string]string // as submitted, references unresolved
	tasksMax int

	source     api.SourcePlugin
	sourceCfg  api.Config
	sink       api.SinkPlugin
	sinkCfg    api.Config
	transforms []transformStep
	dlq        *api.SinkPlugin
	dlqCfg     api.Config

	tolerance      runtime.Tolerance
	retry          runtime.Retry
	logErrors      bool
	dlqFormat      runtime.DeadLetterFormat
	batchSize      int
	batchRecords   int
	batchWait      time.Duration
	bufferRecords  int
	bufferBytes    int64
	commitInterval time.Duration
	stopTimeout    time.Duration
	traceRate      float64
}

// validation is the result of checking a connector config: the parsed
// config when it is valid, every section (for ConfigInfos and redaction)
// and every problem, keyed by full config key.
type validation struct {
	cfg      *connectorConfig
	sections []section
	errs     []api.FieldError
}

// err returns the problems as one *api.ValidationError, or nil.
func (v *validation) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return &api.ValidationError{Fields: slices.Clone(v.errs)}
}

// validate checks raw, a full connector config, against the envelope and
// every plugin it names, and its secret references against the worker's
// SecretSources. It reports every problem, never only the first.
func (wc Config) validate(raw map[string]string) *validation {
	reg := wc.Registry
	v := &validation{}
	env := section{group: groupCommon, spec: envelopeSpec(wc.CommitInterval), raw: map[string]string{}}
	var src, snk, dlq map[string]string
	ch := newChainKeys(raw)
	var unknown []api.FieldError

	for _, k := range slices.Sorted(maps.Keys(raw)) {
		switch {
		case strings.HasPrefix(k, prefixSource):
			src = putKey(src, k[len(prefixSource):], raw[k])
		case strings.HasPrefix(k, prefixSink):
			snk = putKey(snk, k[len(prefixSink):], raw[k])
		case strings.HasPrefix(k, prefixDLQ):
			dlq = putKey(dlq, k[len(prefixDLQ):], raw[k])
		case ch.owns(k):
			unknown = ch.file(k, raw[k], unknown)
		default:
			if _, ok := env.spec.Lookup(k); !ok {
				unknown = append(unknown, api.FieldError{Field: k, Message: "unknown configuration key"})
				continue
			}
			env.raw[k] = raw[k]
		}
	}

	v.parse(&env)
	cc := &connectorConfig{raw: maps.Clone(raw)}
	if env.parsed.Has(keyName) {
		e := env.parsed
		cc.name = e.String(keyName)
		cc.tasksMax = e.Int(keyTasksMax)
		cc.batchSize = e.Int(keyBatchSize)
		cc.commitInterval = e.Duration(keyCommitInterval)
		cc.stopTimeout = e.Duration(keyStopTimeout)
		cc.traceRate = e.Float(keyTraceRate)
		cc.tolerance = runtime.Tolerance(e.String(keyTolerance))
		_, timeoutSet := env.raw[keyRetryTimeout]
		cc.retry = retryPolicy(e, timeoutSet)
		cc.logErrors = e.Bool(keyLogEnable)
		cc.dlqFormat = runtime.DeadLetterFormat(e.String(keyDLQFormat))
		cc.batchRecords = e.Int(keyBatchRecords)
		cc.batchWait = e.Duration(keyBatchWait)
		cc.bufferRecords = e.Int(keyBufferRecords)
		cc.bufferBytes = int64(e.Int(keyBufferBytes))
		v.checkBuffers(cc)
	}
	// Sections in display order: envelope, source, transforms, predicates,
	// sink, DLQ.
	v.sections = append(v.sections, env)

	if name := env.raw[keySource]; name != "" {
		if p, ok := reg.Source(name); ok {
			cc.source = p
			cc.sourceCfg = v.parse(&section{prefix: prefixSource, group: groupSource, spec: p.Spec, check: p.Validate, raw: src})
		} else {
			v.fail(keySource, fmt.Sprintf("unknown source plugin %q; available: %s", name, reg.sourceNames()))
		}
	}

	cc.transforms = v.chain(reg, ch)

	if name := env.raw[keySink]; name != "" {
		if p, ok := reg.Sink(name); ok {
			cc.sink = p
			cc.sinkCfg = v.parse(&section{prefix: prefixSink, group: groupSink, spec: p.Spec, check: p.Validate, raw: snk})
		} else {
			v.fail(keySink, fmt.Sprintf("unknown sink plugin %q; available: %s", name, reg.sinkNames()))
		}
	}

	if name := env.raw[keyDLQSink]; name != "" {
		if p, ok := reg.Sink(name); ok {
			cc.dlq = &p
			cc.dlqCfg = v.parse(&section{prefix: prefixDLQ, group: groupDLQ, spec: p.Spec, check: p.Validate, raw: dlq})
		} else {
			v.fail(keyDLQSink, fmt.Sprintf("unknown sink plugin %q; available: %s", name, reg.sinkNames()))
		}
	} else if len(dlq) > 0 {
		for _, k := range slices.Sorted(maps.Keys(dlq)) {
			v.fail(prefixDLQ+k, "set without "+keyDLQSink)
		}
	}

	v.errs = append(v.errs, unknown...)
	v.checkReferences(raw, wc.SecretSources)
	if len(v.errs) == 0 {
		v.cfg = cc
		return v
	}
	v.scrubErrs(raw)
	return v
}

// scrubErrs hides the literal secret values of raw in the error messages:
// a type error quotes the value, never when the value is a secret.
func (v *validation) scrubErrs(raw map[string]string) {
	sc := newScrubber(v.literalSecrets(raw))
	for i := range v.errs {
		v.errs[i].Message = sc.scrub(v.errs[i].Message)
	}
}

// chainKeys gathers the transform chain's keys of a config: the aliases
// listed in transforms= and predicates= and each alias's settings.
type chainKeys struct {
	aliases, predAliases []string
	tr, pr               map[string]map[string]string // alias → field → value
}

func newChainKeys(raw map[string]string) *chainKeys {
	c := api.NewConfig(raw)
	return &chainKeys{
		aliases: c.List(keyTransforms), predAliases: c.List(keyPredicates),
		tr: map[string]map[string]string{}, pr: map[string]map[string]string{},
	}
}

// owns reports whether k is a transforms.<…> or predicates.<…> key.
func (c *chainKeys) owns(k string) bool {
	return strings.HasPrefix(k, prefixTransforms) || strings.HasPrefix(k, prefixPredicates)
}

// file files the owned key k, or appends to unknown why it cannot.
func (c *chainKeys) file(k, val string, unknown []api.FieldError) []api.FieldError {
	prefix, listKey, listed, into := prefixTransforms, keyTransforms, c.aliases, c.tr
	if strings.HasPrefix(k, prefixPredicates) {
		prefix, listKey, listed, into = prefixPredicates, keyPredicates, c.predAliases, c.pr
	}
	alias, field, ok := strings.Cut(k[len(prefix):], ".")
	switch {
	case !ok || alias == "" || field == "":
		return append(unknown, api.FieldError{Field: k, Message: "unknown configuration key; settings here are " + prefix + "<alias>.<field>"})
	case !slices.Contains(listed, alias):
		return append(unknown, api.FieldError{Field: k, Message: fmt.Sprintf("alias %q is not listed in %s", alias, listKey)})
	}
	into[alias] = putKey(into[alias], field, val)
	return unknown
}

// chain parses the transform steps and the predicates they name,
// recording every problem and a section per alias. Steps whose plugin is
// unknown are left out; the problem is recorded.
func (v *validation) chain(reg Registry, ch *chainKeys) []transformStep {
	var steps []transformStep
	type guard struct {
		step      int
		predicate string
	}
	var guards []guard
	for _, alias := range dedupe(v, keyTransforms, ch.aliases) {
		prefix := prefixTransforms + alias + "."
		r := ch.tr[alias]
		spec := api.Spec{
			{Name: typeField, Type: api.TypeString, Required: true, Description: "Transform plugin of this step."},
			{Name: predicateField, Type: api.TypeString, Description: "Alias of a predicate (listed in predicates) that must hold for this step to apply."},
			{Name: negateField, Type: api.TypeBool, Default: "false", Description: "Apply this step where the predicate does not hold."},
		}
		p, ok := reg.Transform(r[typeField])
		if r[typeField] != "" && !ok {
			v.fail(prefix+typeField, fmt.Sprintf("unknown transform plugin %q; available: %s", r[typeField], reg.transformNames()))
		}
		cfg := v.parse(&section{prefix: prefix, group: "Transform " + alias, spec: append(spec, p.Spec...), check: p.Validate, raw: r})
		if pred := r[predicateField]; pred != "" && !slices.Contains(ch.predAliases, pred) {
			v.fail(prefix+predicateField, fmt.Sprintf("predicate %q is not listed in %s", pred, keyPredicates))
		}
		if ok {
			m := cfg.Map()
			delete(m, typeField)
			delete(m, predicateField)
			delete(m, negateField)
			if pred := cfg.String(predicateField); pred != "" {
				guards = append(guards, guard{step: len(steps), predicate: pred})
			}
			steps = append(steps, transformStep{alias: alias, plugin: p, cfg: api.NewConfig(m), negate: cfg.Bool(negateField)})
		}
	}
	preds := map[string]*predicateStep{}
	for _, alias := range dedupe(v, keyPredicates, ch.predAliases) {
		prefix := prefixPredicates + alias + "."
		r := ch.pr[alias]
		spec := api.Spec{{Name: typeField, Type: api.TypeString, Required: true, Description: "Predicate plugin."}}
		p, ok := reg.Predicate(r[typeField])
		if r[typeField] != "" && !ok {
			v.fail(prefix+typeField, fmt.Sprintf("unknown predicate plugin %q; available: %s", r[typeField], reg.predicateNames()))
		}
		cfg := v.parse(&section{prefix: prefix, group: "Predicate " + alias, spec: append(spec, p.Spec...), check: p.Validate, raw: r})
		if ok {
			m := cfg.Map()
			delete(m, typeField)
			preds[alias] = &predicateStep{alias: alias, plugin: p, cfg: api.NewConfig(m)}
		}
	}
	for _, g := range guards {
		steps[g.step].predicate = preds[g.predicate] // nil only when invalid, reported above
	}

	return steps
}

// dedupe returns aliases without repeats, reporting each repeat on key.
func dedupe(v *validation, key string, aliases []string) []string {
	var out []string
	for _, a := range aliases {
		if slices.Contains(out, a) {
			v.fail(key, fmt.Sprintf("alias %q is listed twice", a))
			continue
		}
		out = append(out, a)
	}
	return out
}

func putKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// parse parses one section with its spec, records its errors under full
// key names, and keeps the section for ConfigInfos and redaction.
func (v *validation) parse(s *section) api.Config {
	if s.raw == nil {
		s.raw = map[string]string{}
	}
	c, err := s.spec.Parse(s.raw)
	if err == nil && s.check != nil {
		err = s.check(c)
	}
	var ve *api.ValidationError
	var fe api.FieldError
	switch {
	case errors.As(err, &ve):
		v.errs = append(v.errs, ve.Prefixed(s.prefix).Fields...)
	case errors.As(err, &fe):
		v.fail(s.prefix+fe.Field, fe.Message)
	case err != nil:
		v.fail(strings.TrimSuffix(s.prefix, "."), err.Error())
	}
	for _, k := range slices.Sorted(maps.Keys(s.raw)) {
		if _, declared := s.spec.Lookup(k); !declared {
			v.fail(s.prefix+k, unknownKey(s.prefix, k, s.spec))
		}
	}
	s.parsed = c
	if s.prefix != "" {
		v.sections = append(v.sections, *s)
	}
	return c
}

func (v *validation) fail(key, msg string) {
	v.errs = append(v.errs, api.FieldError{Field: key, Message: msg})
}

// field finds the declaration of a full config key.
func (v *validation) field(key string) (api.Field, bool) {
	for _, s := range v.sections {
		if rel, ok := strings.CutPrefix(key, s.prefix); ok {
			if f, ok := s.spec.Lookup(rel); ok {
				return f, true
			}
		}
	}
	return api.Field{}, false
}

// sensitiveWords mark pass-through keys (settings a plugin hands to a
// client library without declaring them) whose values are redacted even
// though no Spec says they are secret: a leaked password costs more than a
// hidden harmless value.
var sensitiveWords = []string{"password", "passwd", "secret", "token", "credential", "private.key", "access.key", "accesskey", "apikey", "api.key"}

// unknownKey is the message for a key no field of spec declares: a typo
// (sink.pasword) would otherwise be stored, ignored, and — being
// undeclared — shown in plain text. It names the closest declared key.
func unknownKey(prefix, key string, spec api.Spec) string {
	best, bestD := "", 4 // suggest only what is a few edits away
	for _, f := range spec {
		name := f.Name
		if f.Prefix {
			name += "<name>"
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(f.Name)); d < bestD {
			best, bestD = name, d
		}
	}
	if best == "" {
		return "unknown configuration key"
	}
	return fmt.Sprintf("unknown configuration key; did you mean %s%s?", prefix, best)
}

// editDistance is the Levenshtein distance of a and b (bytes), for
// suggestions; both are short.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// isSecret reports whether the value of key must be redacted.
func (v *validation) isSecret(key string) bool {
	if f, ok := v.field(key); ok {
		return f.Secret
	}
	lk := strings.ToLower(key)
	return slices.ContainsFunc(sensitiveWords, func(w string) bool { return strings.Contains(lk, w) })
}

// redact returns a copy of raw with secret values replaced by
// api.Redacted. References are kept: they name where a secret lives, not
// the secret.
func (v *validation) redact(raw map[string]string) map[string]string {
	out := make(map[string]string, len(raw))
	for k, val := range raw {
		if val != "" && !api.IsReference(val) && v.isSecret(k) {
			val = api.Redacted
		}
		out[k] = val
	}
	return out
}

// configInfos renders the validation for the validate endpoint: one entry
// per declared field of every section, then one per key that has errors
// but no declaration (unknown keys).
func (v *validation) configInfos(name string) ConfigInfos {
	byKey := map[string][]string{}
	for _, e := range v.errs {
		byKey[e.Field] = append(byKey[e.Field], e.Message)
	}
	out := ConfigInfos{Name: name, ErrorCount: len(v.errs), Groups: []string{}, Configs: []ConfigInfo{}}
	listed := map[string]bool{}
	addGroup := func(g string) {
		if !slices.Contains(out.Groups, g) {
			out.Groups = append(out.Groups, g)
		}
	}
	for _, s := range v.sections {
		for i, f := range s.spec {
			key := s.prefix + f.Name
			group := s.group
			if s.prefix == "" {
				group = groupOf(key)
			}
			addGroup(group)
			def := keyInfo(f, s.prefix, group, i+1)
			val := ConfigValueInfo{Name: key, RecommendedValues: slices.Clone(f.Enum), Errors: byKey[key], Visible: true}
			if val.RecommendedValues == nil {
				val.RecommendedValues = []string{}
			}
			if val.Errors == nil {
				val.Errors = []string{}
			}
			if raw, ok := s.raw[f.Name]; ok {
				if f.Secret && raw != "" && !api.IsReference(raw) {
					raw = api.Redacted
				}
				val.Value = &raw
			} else if f.Default != "" && !f.Required {
				d := f.Default
				val.Value = &d
			}
			out.Configs = append(out.Configs, ConfigInfo{Definition: def, Value: val})
			listed[key] = true
		}
	}
	for _, e := range v.errs {
		if listed[e.Field] {
			continue
		}
		listed[e.Field] = true
		f := api.Field{Name: e.Field, Type: api.TypeString}
		addGroup(groupCommon)
		val := ConfigValueInfo{Name: e.Field, RecommendedValues: []string{}, Errors: byKey[e.Field], Visible: true}
		out.Configs = append(out.Configs, ConfigInfo{Definition: keyInfo(f, "", groupCommon, 0), Value: val})
	}
	return out
}

// keyInfo describes one field in Kafka Connect's ConfigKeyInfo shape.
func keyInfo(f api.Field, prefix, group string, order int) ConfigKeyInfo {
	k := ConfigKeyInfo{
		Name:          prefix + f.Name,
		Type:          kcType(f),
		Required:      f.Required,
		Importance:    "MEDIUM",
		Documentation: f.Description,
		Group:         group,
		OrderInGroup:  order,
		Width:         "NONE",
		DisplayName:   prefix + f.Name,
		Dependents:    []string{},
		Secret:        f.Secret,
		Enum:          slices.Clone(f.Enum),
	}
	if f.Required {
		k.Importance = "HIGH"
	}
	if !f.Required && f.Default != "" {
		d := f.Default
		k.DefaultValue = &d
	}
	return k
}

// keyInfos describes a whole spec.
func keyInfos(spec api.Spec, prefix, group string) []ConfigKeyInfo {
	out := make([]ConfigKeyInfo, len(spec))
	for i, f := range spec {
		out[i] = keyInfo(f, prefix, group, i+1)
	}
	return out
}

// kcType names a field type as Kafka Connect's ConfigDef.Type does, so
// tools built for it render the fields; duration and json have no Kafka
// Connect equivalent and keep Ferry's names.
func kcType(f api.Field) string {
	if f.Secret {
		return "PASSWORD"
	}
	switch f.Type {
	case api.TypeInt:
		return "INT"
	case api.TypeFloat:
		return "DOUBLE"
	case api.TypeBool:
		return "BOOLEAN"
	case api.TypeList:
		return "LIST"
	case api.TypeDuration:
		return "DURATION"
	case api.TypeJSON:
		return "JSON"
	}
	return "STRING"
}

// literalSecrets returns the values of secret keys in raw that are not
// references: what a message about raw must never quote.
func (v *validation) literalSecrets(raw map[string]string) []string {
	var out []string
	for k, val := range raw {
		if val != "" && !api.IsReference(val) && v.isSecret(k) {
			out = append(out, val)
		}
	}
	return out
}
