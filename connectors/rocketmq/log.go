package rocketmq

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// rlogBridge routes rocketmq-client-go's logging, which is global to the
// process, into slog's default logger. The client logs every heartbeat and
// route refresh at info, so the bridge starts at warn; rlog.SetLogLevel
// can lower it.
type rlogBridge struct {
	level *slog.LevelVar
}

var bridgeOnce sync.Once

// routeClientLogs installs the bridge once per process. A program that
// installed its own rlog logger before the first sink is created keeps
// it only if it does so again afterwards; the client offers no getter.
func routeClientLogs() {
	bridgeOnce.Do(func() {
		lv := new(slog.LevelVar)
		lv.Set(slog.LevelWarn)
		rlog.SetLogger(rlogBridge{level: lv})
	})
}

func (b rlogBridge) log(level slog.Level, msg string, fields map[string]any) {
	if level < b.level.Level() {
		return
	}
	args := make([]any, 0, 2*len(fields)+2)
	args = append(args, "lib", "rocketmq-client-go")
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		args = append(args, k, fields[k])
	}
	// The default logger is looked up per line, so a program that sets
	// it after the first sink opened still gets the client's lines.
	slog.Default().Log(context.Background(), level, msg, args...)
}

func (b rlogBridge) Debug(msg string, f map[string]any)   { b.log(slog.LevelDebug, msg, f) }
func (b rlogBridge) Info(msg string, f map[string]any)    { b.log(slog.LevelInfo, msg, f) }
func (b rlogBridge) Warning(msg string, f map[string]any) { b.log(slog.LevelWarn, msg, f) }
func (b rlogBridge) Error(msg string, f map[string]any)   { b.log(slog.LevelError, msg, f) }

// Fatal logs at error: the library's own logger would exit the process.
func (b rlogBridge) Fatal(msg string, f map[string]any) { b.log(slog.LevelError, "fatal: "+msg, f) }

// Level sets the threshold by the library's level names.
func (b rlogBridge) Level(s string) {
	switch strings.ToLower(s) {
	case "debug":
		b.level.Set(slog.LevelDebug)
	case "info":
		b.level.Set(slog.LevelInfo)
	case "warn", "warning":
		b.level.Set(slog.LevelWarn)
	case "error", "fatal":
		b.level.Set(slog.LevelError)
	}
}

// OutputPath is ignored: output goes wherever slog's default handler
// writes.
func (b rlogBridge) OutputPath(string) error { return nil }
