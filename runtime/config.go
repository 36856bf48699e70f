package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime/trace"
)

// Tolerance says what a task does with a record that fails in a transform,
// in conversion or permanently in the sink.
type Tolerance string

// Error tolerances, as Kafka Connect's errors.tolerance.
const (
	// ToleranceNone fails the task on the first bad record.
	ToleranceNone Tolerance = "none"
	// ToleranceAll skips bad records, sending them to the dead-letter sink
	// when one is configured.
	ToleranceAll Tolerance = "all"
)

// NamedTransform is one step of a transform chain.
type NamedTransform struct {
	Name      string
	Transform api.Transform
}

// Committer durably stores a task's positions. state.Store satisfies it
// through a small adapter in package worker; tests pass a func.
type Committer interface {
	Commit(offsets map[string]api.Position) error
}

// CommitFunc adapts a function to Committer.
type CommitFunc func(offsets map[string]api.Position) error

// Commit calls f.
func (f CommitFunc) Commit(offsets map[string]api.Position) error { return f(offsets) }

// Retry is the retry policy of a task's operations (opens, reads,
// writes, flushes, dead-letter writes); Next is its schedule.
type Retry struct {
	// Strategy picks the schedule; default StrategyExponential.
	Strategy Strategy
	Initial  time.Duration // StrategyExponential's first delay ceiling; default 100ms
	Max      time.Duration // StrategyExponential's cap on one delay; default 30s
	// Timeout bounds the total time spent retrying one operation; 0 means
	// no bound beyond the strategy's own (exponential has none: retry
	// until the task stops). Kafka Connect's errors.retry.timeout, whose 0
	// (no retries) is Disabled here.
	Timeout time.Duration
	// MaxAttempts caps the retries of one operation (after its first
	// failure); 0 leaves the strategy's own count (3 for backoff, 176 for
	// exponential-decay, none for exponential).
	MaxAttempts int
	// Disabled fails an operation at its first error, retryable or not.
	Disabled bool
}

// Health is what a task's retries say about one operation: that it is
// failing and being retried, since when and with what error, or (Err nil)
// that it succeeded again.
type Health struct {
	// Op names the operation ("write", "open source", …).
	Op string
	// Since is the first failure of the current series.
	Since time.Time
	// Err is the last error of the series.
	Err error
	// Attempts counts the failures of the series.
	Attempts int
}

// Config configures one task. The zero values of optional fields are
// replaced by the defaults documented on each field; New never modifies the
// caller's Config.
type Config struct {
	Connector string
	Task      int

	// Source is the task's source; set it or NewSource, not both.
	Source api.Source
	// NewSource builds the source once the sink is open, from Committed
	// merged with the positions of a sink that is an api.PositionStore
	// (the sink's win; see api.PositionStore). Set it instead of Source
	// whenever the sink may store positions: a source built before the
	// sink answered would resume from the offset store alone.
	NewSource func(committed map[string]api.Position) (api.Source, error)
	// Committed holds the offset store's positions that NewSource's map
	// starts from. Only read with NewSource.
	Committed map[string]api.Position

	Transforms []NamedTransform
	// NewChain builds a second instance of Transforms: the same steps, with
	// state of their own. With it the reader applies the chain to a batch
	// itself whenever the chain stage already has batches waiting, so a
	// chain dearer than its source uses the reader's spare time instead of
	// capping the task at the chain stage's speed. Order is kept: the
	// batch joins the same queue and the chain stage passes it on. Each
	// instance is used by one goroutine. Optional.
	NewChain func() ([]NamedTransform, error)
	Sink     api.Sink // required
	// DeadLetter receives records that failed when Tolerance is all. Nil
	// means bad records are only counted and logged.
	DeadLetter api.Sink
	// ScrubError rewrites a failed record's error text before it goes to
	// the dead-letter sink (the ferryerror extension), so a plugin error
	// that quotes a secret does not carry it out; the worker passes its
	// secret scrubber. Nil keeps the text as is.
	ScrubError func(string) string
	// DeadLetterFormat is how dead-letter records carry the original
	// event and the error; default DeadLetterCloudEvent.
	DeadLetterFormat DeadLetterFormat
	Tolerance        Tolerance // default none
	// LogErrors logs every skipped record at warn level (errors.log.enable);
	// otherwise they are logged at debug level and counted.
	LogErrors bool

	Committer Committer // required

	BatchSize int // max records per Sink.Write; default 1024
	// BatchMaxRecords and BatchMaxWait form a batch window between the
	// chain and the sink: records wait until BatchMaxRecords of them do,
	// or the first has waited BatchMaxWait, and are then written
	// together (in writes of at most BatchSize). Either 0 (the default)
	// writes every batch at once. See window.go.
	BatchMaxRecords int
	BatchMaxWait    time.Duration
	// MaxInFlightRecords and MaxInFlightBytes (by Record.Size) bound the
	// records read but not yet acknowledged; defaults
	// DefaultMaxInFlightRecords and DefaultMaxInFlightBytes (budget.go).
	MaxInFlightRecords int
	MaxInFlightBytes   int64
	CommitInterval     time.Duration // default 500ms
	// FlushInterval bounds how long a partial batch waits for more records
	// before it is written; default 50ms.
	FlushInterval time.Duration
	Retry         Retry
	// OnHealth, when set, hears when an operation starts failing and being
	// retried (again every tenth failure, with the latest error) and when
	// it succeeds again (Health.Err nil). Operations run in several
	// goroutines, so calls may come at once; it must not block.
	OnHealth func(Health)
	// StopTimeout bounds a soft stop (drain, flush, commit, close); after
	// it the task is abandoned (hard stop). Default 10s.
	StopTimeout time.Duration
	// Latency, when set, records each acknowledged record's end-to-end
	// latency (event time to the sink's acknowledgement). Tasks may share
	// one: the worker passes its connector's. Nil records none.
	Latency *Latency

	Logger *slog.Logger // default slog.Default()

	// Tracer records what becomes of the task's events: the worker's one
	// trace.Recorder, shared by its tasks. Nil traces nothing.
	Tracer *trace.Recorder
	// TraceSampleRate is the share of events, from 0 to 1, the Tracer
	// traces in full (a connector's trace.sample.rate); every event that
	// fails is traced as well. 0 traces failures only; the worker's
	// default is trace.DefaultSampleRate.
	TraceSampleRate float64
}

// withDefaults returns a copy of c with defaults applied.
func (c Config) withDefaults() Config {
	if c.Tolerance == "" {
		c.Tolerance = ToleranceNone
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1024
	}
	if c.MaxInFlightRecords <= 0 {
		c.MaxInFlightRecords = DefaultMaxInFlightRecords
	}
	if c.MaxInFlightRecords < c.BatchSize {
		c.MaxInFlightRecords = c.BatchSize
	}
	if c.MaxInFlightBytes <= 0 {
		c.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if c.DeadLetterFormat == "" {
		c.DeadLetterFormat = DeadLetterCloudEvent
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = 500 * time.Millisecond
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 50 * time.Millisecond
	}
	if c.Retry.Strategy == "" {
		c.Retry.Strategy = StrategyExponential
	}
	if c.Retry.Initial <= 0 {
		c.Retry.Initial = 100 * time.Millisecond
	}
	if c.Retry.Max <= 0 {
		c.Retry.Max = 30 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first contradiction in c.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.Source == nil && c.NewSource == nil:
		errs = append(errs, errors.New("runtime: Source is required (or NewSource)"))
	case c.Source != nil && c.NewSource != nil:
		errs = append(errs, errors.New("runtime: Source and NewSource are exclusive"))
	case c.Source != nil && c.Committed != nil:
		errs = append(errs, errors.New("runtime: Committed is only read with NewSource; Source is already built"))
	}
	if c.Sink == nil {
		errs = append(errs, errors.New("runtime: Sink is required"))
	}
	if c.Committer == nil {
		errs = append(errs, errors.New("runtime: Committer is required"))
	}
	if c.Tolerance != "" && c.Tolerance != ToleranceNone && c.Tolerance != ToleranceAll {
		errs = append(errs, fmt.Errorf("runtime: Tolerance must be none or all, got %q", c.Tolerance))
	}
	for i, t := range c.Transforms {
		if t.Transform == nil {
			errs = append(errs, fmt.Errorf("runtime: transform %d (%q) is nil", i, t.Name))
		}
	}
	if c.Retry.Max > 0 && c.Retry.Initial > c.Retry.Max {
		errs = append(errs, errors.New("runtime: Retry.Initial exceeds Retry.Max"))
	}
	switch c.DeadLetterFormat {
	case "", DeadLetterCloudEvent, DeadLetterEnvelope:
	default:
		errs = append(errs, fmt.Errorf("runtime: DeadLetterFormat must be %s or %s, got %q", DeadLetterCloudEvent, DeadLetterEnvelope, c.DeadLetterFormat))
	}
	if c.BatchMaxRecords < 0 || c.BatchMaxWait < 0 {
		errs = append(errs, errors.New("runtime: BatchMaxRecords and BatchMaxWait must not be negative"))
	}
	if c.MaxInFlightRecords > 0 && c.BatchMaxRecords > c.MaxInFlightRecords {
		errs = append(errs, errors.New("runtime: BatchMaxRecords exceeds MaxInFlightRecords: the window could never fill"))
	}
	switch c.Retry.Strategy {
	case "", StrategyExponential, StrategyBackoff, StrategyExponentialDecay:
	default:
		errs = append(errs, fmt.Errorf("runtime: Retry.Strategy must be %s, %s or %s, got %q", StrategyExponential, StrategyBackoff, StrategyExponentialDecay, c.Retry.Strategy))
	}
	if !trace.ValidSampleRate(c.TraceSampleRate) {
		errs = append(errs, fmt.Errorf("runtime: TraceSampleRate must be from 0 to 1, got %v", c.TraceSampleRate))
	}
	if c.Retry.MaxAttempts < 0 {
		errs = append(errs, errors.New("runtime: Retry.MaxAttempts is negative"))
	}
	return errors.Join(errs...)
}
