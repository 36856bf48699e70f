package apitest

import (
	"log/slog"
	"testing"
)

// logger returns a logger writing to the test's log, so a plugin's log
// lines show up beside the failure they explain.
func logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
