package rocketmq_test

import (
	"log/slog"
	"os"
	"sort"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/rlog"
	"go.uber.org/goleak"
)

// slogRlog routes rocketmq-client-go's logging into slog at warn: the
// client logs every heartbeat at info.
type slogRlog struct{ l *slog.Logger }

func attrs(fields map[string]any) []any {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		out = append(out, k, fields[k])
	}
	return out
}

func (s slogRlog) Debug(msg string, f map[string]any)   { s.l.Debug(msg, attrs(f)...) }
func (s slogRlog) Info(msg string, f map[string]any)    { s.l.Info(msg, attrs(f)...) }
func (s slogRlog) Warning(msg string, f map[string]any) { s.l.Warn(msg, attrs(f)...) }
func (s slogRlog) Error(msg string, f map[string]any)   { s.l.Error(msg, attrs(f)...) }
func (s slogRlog) Fatal(msg string, f map[string]any)   { s.l.Error("FATAL: "+msg, attrs(f)...) }
func (s slogRlog) Level(string)                         {}
func (s slogRlog) OutputPath(string) error              { return nil }

func TestMain(m *testing.M) {
	h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	rlog.SetLogger(slogRlog{slog.New(h).With("lib", "rocketmq-client-go")})
	// rocketmq-client-go leaves goroutines behind after Shutdown (its
	// issue #1147); the store's own readers and snapshotter must not.
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/apache/rocketmq-client-go/v2/internal.(*rmqClient).Start.func1.1"),
		goleak.IgnoreAnyFunction("github.com/apache/rocketmq-client-go/v2/internal.(*rmqClient).Start.func1.2"),
		goleak.IgnoreAnyFunction("github.com/apache/rocketmq-client-go/v2/internal.(*rmqClient).Start.func1.3"),
		goleak.IgnoreAnyFunction("github.com/apache/rocketmq-client-go/v2/internal.(*rmqClient).Start.func1.4"),
		goleak.IgnoreAnyFunction("github.com/apache/rocketmq-client-go/v2/internal.(*rmqClient).Start.func1.5"),
		goleak.IgnoreAnyFunction("github.com/apache/rocketmq-client-go/v2/internal/remote.(*remotingClient).receiveResponse"),
		goleak.IgnoreAnyFunction("github.com/apache/rocketmq-client-go/v2/internal/remote.(*remotingClient).connect.func1"),
		goleak.IgnoreAnyFunction("github.com/apache/rocketmq-client-go/v2/primitive.WithRecover"),
		goleak.IgnoreAnyFunction("github.com/patrickmn/go-cache.(*janitor).Run"),
	)
}
