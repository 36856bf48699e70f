package sls_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/connectors/sls"
	"github.com/ferryhq/ferry/internal/emulator/sls/slstest"
)

// bed is one SLS to test against (slstest.Bed) with the connector's
// settings for it.
type bed struct{ slstest.Bed }

func testbedSLS(t testing.TB) bed { return bed{slstest.Testbed(t)} }

// config is the sink's settings for b.
func (b bed) config(project, logstore string, kv ...string) map[string]string {
	m := map[string]string{"endpoint": b.Endpoint(), "connect.address": b.Addr,
		"access.key.id": b.ID, "access.key.secret": b.Secret, "project": project, "logstore": logstore}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
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

// generate returns n events of the generator source.
func generate(t testing.TB, n, payload int) []api.Record {
	t.Helper()
	recs, err := generator.Records(n, payload)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func jsonRecord(id, data string) api.Record {
	return api.Record{Event: api.Event{ID: id, Source: "/test", Type: "t", SpecVersion: "1.0",
		Time: time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC), DataContentType: "application/json", Data: []byte(data)}}
}
