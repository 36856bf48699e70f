package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	ferryworker "github.com/ferryhq/ferry/worker"
)

type levelsKey struct{}

// newLeveledLogger is the process's logger: a text logger to w whose
// levels /admin/loggers can change at run time, root starting at level.
func newLeveledLogger(w io.Writer, level string) (*slog.Logger, *ferryworker.LogLevels, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(level))); err != nil {
		return nil, nil, fmt.Errorf("--%s: %w", flagLogLevel, err)
	}
	levels := ferryworker.NewLogLevels(l)
	// The text handler lets every level through: levels decides.
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: ferryworker.LevelTrace})
	return slog.New(levels.Handler(h)), levels, nil
}

// levelsFrom returns the log levels the root command configured for this
// run (nil outside a command).
func levelsFrom(ctx context.Context) *ferryworker.LogLevels {
	l, _ := ctx.Value(levelsKey{}).(*ferryworker.LogLevels)
	return l
}
