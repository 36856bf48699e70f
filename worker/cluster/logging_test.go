package cluster

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, level, msg, suspect string
	}{
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:1", "DEBUG", "Stream connection from=127.0.0.1:1", ""},
		{"[WARN] memberlist: Refuting a suspect message (from: b)", "WARN", "Refuting a suspect message (from: b)", ""},
		{"[ERR] memberlist: Failed to send gossip", "ERROR", "Failed to send gossip", ""},
		{"[INFO] memberlist: Suspect node-7 has failed, no acks received", "INFO", "Suspect node-7 has failed, no acks received", "node-7"},
		{"no level at all", "INFO", "no level at all", ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			var suspect string
			l := newStdLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
				func(n string) { suspect = n })
			l.Print(tt.line)
			out := buf.String()
			if !strings.Contains(out, "level="+tt.level) || !strings.Contains(out, tt.msg) {
				t.Errorf("logged %q, want level %s and %q", out, tt.level, tt.msg)
			}
			if suspect != tt.suspect {
				t.Errorf("suspect %q, want %q", suspect, tt.suspect)
			}
		})
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"id":"a","rest":"http://127.0.0.1:8083","version":"1","start":"2026-01-01T00:00:00Z","draining":true}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"start":"not a time"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		// Whatever decodes encodes again and decodes to the same meta.
		enc, err := m.encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeMeta(enc)
		if err != nil || again.WorkerID != m.WorkerID || again.Draining != m.Draining || !again.StartTime.Equal(m.StartTime) {
			t.Fatalf("round trip %+v → %s → %+v, %v", m, enc, again, err)
		}
	})
}

func TestMetaFitsWithLongFields(t *testing.T) {
	t.Parallel()
	// A realistic worst case must fit memberlist's 512 bytes.
	m := Meta{
		WorkerID:  strings.Repeat("w", 64),
		RESTURL:   "https://" + strings.Repeat("h", 200) + ":8083",
		Version:   "v1.2.3-rc.1+abcdef0123456789",
		StartTime: time.Now(),
		Draining:  true,
	}
	b, err := m.encode()
	if err != nil || len(b) > 512 {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
}
