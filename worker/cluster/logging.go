package cluster

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"strings"
)

// logWriter turns memberlist's "[LEVEL] memberlist: message" lines into
// slog records at their level. It also tells the membership when the local
// prober starts suspecting a node, which memberlist reports nowhere else.
type logWriter struct {
	log       *slog.Logger
	onSuspect func(node string)
}

func newStdLogger(l *slog.Logger, onSuspect func(string)) *log.Logger {
	return log.New(&logWriter{log: l, onSuspect: onSuspect}, "", 0)
}

var levels = []struct {
	tag   string
	level slog.Level
}{
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

func (w *logWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimSpace(p))
	level := slog.LevelInfo
	for _, l := range levels {
		if rest, ok := strings.CutPrefix(msg, l.tag); ok {
			level, msg = l.level, strings.TrimSpace(rest)
			break
		}
	}
	msg = strings.TrimPrefix(msg, "memberlist: ")
	if w.onSuspect != nil {
		// "Suspect <node> has failed, no acks received"
		if rest, ok := strings.CutPrefix(msg, "Suspect "); ok {
			if node, ok := strings.CutSuffix(rest, " has failed, no acks received"); ok {
				w.onSuspect(node)
			}
		}
	}
	w.log.Log(context.Background(), level, msg, "component", "memberlist")
	return len(p), nil
}
