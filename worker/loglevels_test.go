package worker_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker"
)

func TestPackageLogger(t *testing.T) {
	t.Parallel()
	tests := []struct{ fn, want string }{
		{"github.com/ferryhq/ferry/runtime.(*Task).run", "ferry.runtime"},
		{"github.com/ferryhq/ferry/worker/rest.(*Server).health", "ferry.worker.rest"},
		{"github.com/ferryhq/ferry/connectors/mysql.(*source).Read.func1", "ferry.connectors.mysql"},
		{"github.com/ferryhq/ferry/worker.New", "ferry.worker"},
		{"main.main", "main"},
		{"github.com/ferryhq/ferry.X", "ferry"},
		{"github.com/other/lib/v2.(*C).Do", "github.com.other.lib.v2"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := worker.PackageLogger(tt.fn); got != tt.want {
			t.Errorf("PackageLogger(%q) = %q, want %q", tt.fn, got, tt.want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"} {
		for _, in := range []string{name, strings.ToLower(name), " " + name + " "} {
			l, err := worker.ParseLevel(in)
			if err != nil || worker.LevelName(l) != name {
				t.Errorf("ParseLevel(%q) = %v, %v; named %s", in, l, err, worker.LevelName(l))
			}
		}
	}
	for _, bad := range []string{"", "WARNING", "verbose", "-4", "INFO\x00", strings.Repeat("A", 1<<16)} {
		if _, err := worker.ParseLevel(bad); err == nil {
			t.Errorf("ParseLevel(%.20q) accepted", bad)
		}
	}
}

// leveled is a logger through LogLevels into a buffer.
func leveled(root slog.Level) (*slog.Logger, *worker.LogLevels, *syncBuffer) {
	var buf syncBuffer
	levels := worker.NewLogLevels(root)
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: worker.LevelTrace})
	return slog.New(levels.Handler(h)), levels, &buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogLevelsFilter: root, package and connector levels decide which
// records pass, the most specific winning.
func TestLogLevelsFilter(t *testing.T) {
	t.Parallel()
	log, levels, buf := leveled(slog.LevelInfo)
	orders := log.With("connector", "orders")
	audit := log.With("connector", "audit")
	emit := func() {
		log.Debug("plain debug")
		orders.Debug("orders debug")
		audit.Debug("audit debug")
		log.Debug("attr debug", "connector", "orders")
		log.Error("plain error")
	}
	check := func(step string, want ...string) {
		t.Helper()
		out := buf.String()
		buf.mu.Lock()
		buf.b.Reset()
		buf.mu.Unlock()
		for _, m := range []string{"plain debug", "orders debug", "audit debug", "attr debug", "plain error"} {
			if got, wanted := strings.Contains(out, `msg="`+m+`"`), contains(want, m); got != wanted {
				t.Errorf("%s: %q logged = %v, want %v\n%s", step, m, got, wanted, out)
			}
		}
	}

	emit()
	check("root INFO", "plain error")

	if got := levels.SetLevel("orders", slog.LevelDebug); strings.Join(got, ",") != "orders" {
		t.Errorf("SetLevel(orders) changed %v", got)
	}
	emit()
	check("orders DEBUG", "orders debug", "attr debug", "plain error")

	// This test's package is a logger too: worker_test's records are
	// ferry.worker_test's, under ferry.
	levels.SetLevel("ferry", slog.LevelDebug)
	emit()
	check("ferry DEBUG", "plain debug", "orders debug", "audit debug", "attr debug", "plain error")

	levels.SetLevel("audit", slog.LevelError)
	emit()
	check("audit ERROR wins over ferry DEBUG", "plain debug", "orders debug", "attr debug", "plain error")

	changed := levels.SetLevel(worker.RootLogger, worker.LevelOff)
	if strings.Join(changed, ",") != "audit,ferry,orders,root" {
		t.Errorf("SetLevel(root) changed %v, want every logger", changed)
	}
	emit()
	check("root OFF")

	all := levels.Loggers()
	if len(all) != 4 || all["ferry"].Level != worker.LevelOff || all["root"].LastModified == nil {
		t.Errorf("Loggers() = %+v", all)
	}
	if lv := levels.Level("ferry.connectors.mysql"); lv.Level != worker.LevelOff {
		t.Errorf("inherited level = %v, want OFF", lv.Level)
	}
	if lm := all["root"].LastModified; lm == nil || time.Since(*lm) > time.Minute {
		t.Errorf("last modified %v", lm)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestLogLevelsConcurrent: levels change while many goroutines log (run
// with -race).
func TestLogLevelsConcurrent(t *testing.T) {
	t.Parallel()
	log, levels, _ := leveled(slog.LevelInfo)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			l := log.With("connector", []string{"a", "b"}[i%2])
			for ctx.Err() == nil {
				l.Debug("x")
				l.Info("y")
			}
		})
	}
	for ctx.Err() == nil {
		levels.SetLevel("a", slog.LevelDebug)
		levels.SetLevel("ferry", slog.LevelWarn)
		levels.SetLevel(worker.RootLogger, slog.LevelInfo)
	}
	wg.Wait()
}
