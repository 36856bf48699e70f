package sls_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/connectors/sls"
	emu "github.com/ferryhq/ferry/internal/emulator/sls"
	"github.com/ferryhq/ferry/internal/testbed"
)

// bed is one SLS to test against: the test bed's emulator or a private
// one at addr.
type bed struct {
	addr, id, secret string
}

func testbedSLS(t testing.TB) bed {
	c := testbed.SLS(t)
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return bed{addr: u.Host, id: c.AccessKeyID, secret: c.AccessKeySecret}
}

var seq atomic.Int64

// project is a fresh project name (the emulator creates it on first use).
func project(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

// config is the sink's settings for b.
func (b bed) config(project, logstore string, kv ...string) map[string]string {
	m := map[string]string{"endpoint": "http://" + b.addr, "connect.address": b.addr,
		"access.key.id": b.id, "access.key.secret": b.secret, "project": project, "logstore": logstore}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// client is the SDK alone, as a reader or a benchmark baseline uses it.
func (b bed) client() *aliyun.Client {
	cli := aliyun.CreateNormalInterface("http://"+b.addr, b.id, b.secret, "").(*aliyun.Client)
	cli.SetHTTPClient(emu.NewHTTPClient(b.addr))
	return cli
}

// store creates project and logstore (2 shards) with the SDK.
func (b bed) store(t testing.TB, project, logstore string) {
	t.Helper()
	cli := b.client()
	if _, err := cli.CreateProject(project, "ferry test"); err != nil {
		t.Fatalf("create project %s: %v", project, err)
	}
	if err := cli.CreateLogStore(project, logstore, 1, 2, false, 0); err != nil {
		t.Fatalf("create logstore %s: %v", logstore, err)
	}
}

// readAll pulls every log group of every shard with the SDK.
func (b bed) readAll(t testing.TB, project, logstore string) []*aliyun.LogGroup {
	t.Helper()
	hc := emu.NewHTTPClient(b.addr)
	defer hc.CloseIdleConnections() // no connection goroutine outlives the read
	cli := b.client()
	cli.SetHTTPClient(hc)
	shards, err := cli.ListShards(project, logstore)
	if err != nil {
		t.Fatalf("list shards: %v", err)
	}
	var out []*aliyun.LogGroup
	for _, sh := range shards {
		cursor, err := cli.GetCursor(project, logstore, sh.ShardID, "begin")
		if err != nil {
			t.Fatalf("cursor: %v", err)
		}
		for {
			gl, next, err := cli.PullLogs(project, logstore, sh.ShardID, cursor, "", 1000)
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			out = append(out, gl.LogGroups...)
			if next == cursor || len(gl.LogGroups) == 0 {
				break
			}
			cursor = next
		}
	}
	return out
}

// logs flattens groups into one map per log, with __topic__ and
// __source__ from the group.
func logs(groups []*aliyun.LogGroup) []map[string]string {
	var out []map[string]string
	for _, g := range groups {
		for _, l := range g.Logs {
			m := map[string]string{"__topic__": g.GetTopic(), "__source__": g.GetSource(),
				"__time__": fmt.Sprint(l.GetTime())}
			for _, c := range l.Contents {
				m[c.GetKey()] = c.GetValue()
			}
			out = append(out, m)
		}
	}
	return out
}

func newSink(t testing.TB, cfg map[string]string) (api.Sink, error) {
	t.Helper()
	c, err := sls.Sink.Spec.Parse(cfg)
	if err != nil {
		return nil, err
	}
	if err := sls.Sink.Validate(c); err != nil {
		return nil, err
	}
	return sls.Sink.New(api.TaskConfig{Connector: "sls-test", Config: c, Tasks: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func open(t testing.TB, cfg map[string]string) api.Sink {
	t.Helper()
	s, err := newSink(t, cfg)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func write(s api.Sink, recs []api.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Write(ctx, recs)
}

// generate reads n events from the generator source.
func generate(t testing.TB, n, payload int) []api.Record {
	t.Helper()
	c, err := generator.Source.Spec.Parse(map[string]string{"count": fmt.Sprint(n), "payload.bytes": fmt.Sprint(payload)})
	if err != nil {
		t.Fatal(err)
	}
	src, err := generator.Source.New(api.TaskConfig{Connector: "gen", Tasks: 1, Config: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := src.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	var out []api.Record
	for {
		recs, err := src.Read(ctx)
		out = append(out, recs...)
		if errors.Is(err, api.ErrEndOfInput) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func jsonRecord(id, data string) api.Record {
	return api.Record{Event: api.Event{ID: id, Source: "/test", Type: "t", SpecVersion: "1.0",
		Time: time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC), DataContentType: "application/json", Data: []byte(data)}}
}
