// Package rmqlog routes rocketmq-client-go's process-wide logger (rlog)
// into log/slog, so the client's lines follow the worker's format and level.
//
// The client logs every heartbeat and route refresh at info, so its info
// becomes slog's debug; its "fatal" is logged at error (the library's own
// logger would exit the process).
package rmqlog

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/apache/rocketmq-client-go/v2/rlog"
)

var (
	mu     sync.Mutex
	routed bool
)

// Route sends the client's lines to l, or to slog's default logger (looked
// up per line) when l is nil. The last call wins.
func Route(l *slog.Logger) {
	mu.Lock()
	defer mu.Unlock()
	routed = true
	rlog.SetLogger(bridge{l: l})
}

// Ensure routes to slog's default logger unless Route was called already;
// libraries call it so a program's own choice is never overridden.
func Ensure() {
	mu.Lock()
	defer mu.Unlock()
	if !routed {
		routed = true
		rlog.SetLogger(bridge{})
	}
}

type bridge struct{ l *slog.Logger }

func (b bridge) log(level slog.Level, msg string, fields map[string]any) {
	l := b.l
	if l == nil {
		l = slog.Default()
	}
	if !l.Enabled(context.Background(), level) {
		return
	}
	args := make([]any, 0, 2*len(fields)+2)
	args = append(args, "lib", "rocketmq-client-go")
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		args = append(args, k, fields[k])
	}
	l.Log(context.Background(), level, msg, args...)
}

func (b bridge) Debug(msg string, f map[string]any)   { b.log(slog.LevelDebug, msg, f) }
func (b bridge) Info(msg string, f map[string]any)    { b.log(slog.LevelDebug, msg, f) }
func (b bridge) Warning(msg string, f map[string]any) { b.log(slog.LevelWarn, msg, f) }
func (b bridge) Error(msg string, f map[string]any)   { b.log(slog.LevelError, msg, f) }
func (b bridge) Fatal(msg string, f map[string]any)   { b.log(slog.LevelError, "fatal: "+msg, f) }

// Level is ignored: the slog handler's level decides.
func (b bridge) Level(string) {}

// OutputPath is ignored: output goes wherever the slog handler writes.
func (b bridge) OutputPath(string) error { return nil }
