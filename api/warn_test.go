package api

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestTaskConfigWarn(t *testing.T) {
	t.Parallel()
	TaskConfig{}.Warn("no logger, no hook") // must not panic

	var logged bytes.Buffer
	var got []string
	tc := TaskConfig{
		Logger:    slog.New(slog.NewTextHandler(&logged, nil)),
		OnWarning: func(msg string) { got = append(got, msg) },
	}
	tc.Warn("DDL not understood", "schema", "shop")
	if len(got) != 1 || got[0] != "DDL not understood" {
		t.Errorf("OnWarning got %q", got)
	}
	if s := logged.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "schema=shop") {
		t.Errorf("log line %q lacks the level or the args", s)
	}
}
