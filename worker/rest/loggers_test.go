package rest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLoggersChangeWhatIsLogged: a level set through PUT /admin/loggers
// changes what the server's own logger writes (ferry.worker.rest logs
// every request at debug), and GET shows when it was set.
func TestLoggersChangeWhatIsLogged(t *testing.T) {
	t.Parallel()
	var buf lockedBuffer
	levels := worker.NewLogLevels(slog.LevelInfo)
	log := slog.New(levels.Handler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: worker.LevelTrace})))
	s, err := rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: newRestFake(), Logger: log, Loggers: levels})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	do(h, "GET", "/connectors", "")
	if strings.Contains(buf.String(), "REST request") {
		t.Fatalf("debug request log at INFO:\n%s", buf.String())
	}
	before := time.Now()
	rec := do(h, "PUT", "/admin/loggers/ferry.worker.rest", `{"level": "DEBUG"}`)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `["ferry.worker.rest"]` {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	do(h, "GET", "/connectors", "")
	if !strings.Contains(buf.String(), `msg="REST request" method=GET path=/connectors`) {
		t.Fatalf("no debug request log after DEBUG was set:\n%s", buf.String())
	}
	var got struct {
		Level        string `json:"level"`
		LastModified *int64 `json:"last_modified"`
	}
	rec = do(h, "GET", "/admin/loggers/ferry.worker.rest", "")
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Level != "DEBUG" || got.LastModified == nil ||
		*got.LastModified < before.UnixMilli()-1 || *got.LastModified > time.Now().UnixMilli()+1 {
		t.Fatalf("GET after PUT: %s (%v)", rec.Body, err)
	}
	// root back to WARN resets the package logger too, as Kafka Connect.
	rec = do(h, "PUT", "/admin/loggers/root", `{"level": "warn"}`)
	if strings.TrimSpace(rec.Body.String()) != `["ferry.worker.rest","root"]` {
		t.Fatalf("PUT root: %s", rec.Body)
	}
	n := strings.Count(buf.String(), "REST request")
	do(h, "GET", "/connectors", "")
	if strings.Count(buf.String(), "REST request") != n {
		t.Errorf("still logging requests at WARN")
	}
}

// TestLoggersWithoutLevels: a server not given the process's levels says
// so instead of pretending to change them.
func TestLoggersWithoutLevels(t *testing.T) {
	t.Parallel()
	s, err := rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: newRestFake(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/admin/loggers", ""}, {"GET", "/admin/loggers/root", ""}, {"PUT", "/admin/loggers/root", `{"level":"DEBUG"}`},
	} {
		if rec := do(s.Handler(), r.method, r.path, r.body); rec.Code != 404 || !strings.Contains(rec.Body.String(), "does not change log levels") {
			t.Errorf("%s %s: %d %s", r.method, r.path, rec.Code, rec.Body)
		}
	}
}

// TestConnectorResources: what GET /connectors/{name}/topics lists for
// each kind of plugin config.
func TestConnectorResources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config map[string]string
		want   string
	}{
		{"generator to drop", map[string]string{"source": "generator", "sink": "drop"}, ""},
		{"kafka topics", map[string]string{"source": "kafka", "source.topics": "a, b,,a", "sink": "rocketmq", "sink.topic": "${data.kind}"},
			"kafka:a,kafka:b,rocketmq:${data.kind}"},
		{"sls project", map[string]string{"source": "sls", "source.project": "p", "source.logstore": "s", "sink": "mns", "sink.queue": "q"},
			"mns:q,sls:p/s"},
		{"cdc to rds", map[string]string{"source": "mysql-cdc", "source.database.include.list": "shop", "source.table.include.list": "shop.orders,shop.items",
			"sink": "rds", "sink.database": "dw"}, "mysql-cdc:shop,mysql-cdc:shop.items,mysql-cdc:shop.orders,rds:dw"},
		{"file and url", map[string]string{"source": "file", "source.path": "/in", "sink": "http", "sink.url": "https://h/x"}, "file:/in,http:https://h/x"},
		{"keys without their plugin", map[string]string{"source.topic": "t"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(rest.ConnectorResources(tt.config), ",")
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
