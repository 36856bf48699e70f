package rmqlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestBridgeLevelsAndFields(t *testing.T) {
	var buf bytes.Buffer
	b := bridge{l: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	b.Info("heartbeat", map[string]any{"broker": "b1"}) // demoted to debug: dropped
	b.Warning("route missing", map[string]any{"topic": "t", "a": 1})
	b.Fatal("boom", nil)
	out := buf.String()
	if strings.Contains(out, "heartbeat") {
		t.Errorf("client info should be debug: %s", out)
	}
	for _, want := range []string{`level=WARN msg="route missing" lib=rocketmq-client-go a=1 topic=t`, `level=ERROR msg="fatal: boom"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
