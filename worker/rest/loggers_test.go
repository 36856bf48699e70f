package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// clusterLevelsFake is a cluster worker's Controller as far as
// ?scope=cluster goes: it records what it was asked to set, or fails.
type clusterLevelsFake struct {
	*restFake
	mu   sync.Mutex
	set  []string
	fail error
}

func (f *clusterLevelsFake) ClusterStatus(context.Context) (worker.ClusterInfo, error) {
	return worker.ClusterInfo{}, nil
}

func (f *clusterLevelsFake) SetClusterLogLevel(_ context.Context, logger string, level slog.Level) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.set = append(f.set, logger+"="+worker.LevelName(level))
	return nil
}

// clusterOnly is a cluster worker's Controller without ClusterLogLevels.
type clusterOnly struct{ *restFake }

func (clusterOnly) ClusterStatus(context.Context) (worker.ClusterInfo, error) {
	return worker.ClusterInfo{}, nil
}

// TestLoggersClusterScope: on a cluster worker, PUT ?scope=cluster hands
// the checked logger and level to the Controller (which applies them on
// every worker, this one included) and answers 204; the REST layer does
// not set the level itself. Hostile input never reaches the Controller;
// the Controller's errors keep their status.
func TestLoggersClusterScope(t *testing.T) {
	t.Parallel()
	fake := &clusterLevelsFake{restFake: newRestFake()}
	levels := worker.NewLogLevels(slog.LevelInfo)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: fake, Logger: quiet, Loggers: levels})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	if rec := do(h, "PUT", "/admin/loggers/ferry.runtime?scope=cluster", `{"level": "debug"}`); rec.Code != 204 || rec.Body.Len() != 0 {
		t.Fatalf("PUT scope=cluster: %d %q", rec.Code, rec.Body)
	}
	if strings.Join(fake.set, ",") != "ferry.runtime=DEBUG" {
		t.Fatalf("the Controller was asked %v", fake.set)
	}
	if _, set := levels.Loggers()["ferry.runtime"]; set {
		t.Errorf("the REST layer set the level itself: the herder applies cluster levels")
	}
	for _, tc := range []struct {
		path, body string
		code       int
		says       string
	}{
		{"/admin/loggers/root?scope=cluster", `{"level": "LOUD"}`, 400, "invalid log level"},
		{"/admin/loggers/a%01b?scope=cluster", `{"level": "INFO"}`, 400, "control characters"},
		{"/admin/loggers/%FF?scope=cluster", `{"level": "INFO"}`, 400, "UTF-8"},
		{"/admin/loggers/" + strings.Repeat("z", 5000) + "?scope=cluster", `{"level": "INFO"}`, 400, "at most 200 bytes"},
		{"/admin/loggers/nope?scope=cluster", `{"level": "INFO"}`, 404, "not found"},
	} {
		if rec := do(h, "PUT", tc.path, tc.body); rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.says) {
			t.Errorf("PUT %.60s: %d %s, want %d saying %q", tc.path, rec.Code, rec.Body, tc.code, tc.says)
		}
	}
	if len(fake.set) != 1 {
		t.Errorf("refused requests reached the Controller: %v", fake.set)
	}
	fake.fail = fmt.Errorf("log levels kept changing: %w", worker.ErrRebalancing)
	if rec := do(h, "PUT", "/admin/loggers/root?scope=cluster", `{"level": "INFO"}`); rec.Code != 409 || !strings.Contains(rec.Body.String(), "kept changing") {
		t.Errorf("a Controller's conflict: %d %s, want 409", rec.Code, rec.Body)
	}

	// A cluster worker that cannot set cluster-wide levels says so.
	s, err = rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: clusterOnly{newRestFake()}, Logger: quiet, Loggers: levels})
	if err != nil {
		t.Fatal(err)
	}
	if rec := do(s.Handler(), "PUT", "/admin/loggers/root?scope=cluster", `{"level": "INFO"}`); rec.Code != 400 || !strings.Contains(rec.Body.String(), "scope=worker") {
		t.Errorf("scope=cluster without ClusterLogLevels: %d %s, want 400", rec.Code, rec.Body)
	}
}
