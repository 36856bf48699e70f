package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/state"
	ferryworker "github.com/ferryhq/ferry/worker"
)

// TestAliyunChoicesValidate: the validate endpoint (the REST API's 400 on
// create) names the field when an mns sink has neither or both of
// sink.queue and sink.topic, and when an sls source's source.query is not
// an SPL statement.
func TestAliyunChoicesValidate(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := ferryworker.New(ferryworker.Config{WorkerID: "w", Store: state.NewMemory(), Registry: registry(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mns := map[string]string{"name": "c", "source": "generator", "sink": "mns", "sink.endpoint": "https://1.mns.cn-hangzhou.aliyuncs.com",
		"sink.access.key.id": "id", "sink.access.key.secret": "s"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	sls := map[string]string{"name": "c", "source": "sls", "sink": "drop", "source.endpoint": "cn-hangzhou.log.aliyuncs.com",
		"source.access.key.id": "id", "source.access.key.secret": "s", "source.project": "orders", "source.logstore": "events"}
	for _, tc := range []struct {
		name, plugin, field string
		config              map[string]string
	}{
		{"neither queue nor topic", "mns", "sink.queue", mns},
		{"queue and topic", "mns", "sink.topic", with(mns, "sink.queue", "orders", "sink.topic", "events")},
		{"topic with priority", "mns", "sink.priority", with(mns, "sink.topic", "events", "sink.priority", "1")},
		{"query not SPL", "sls", "source.query", with(sls, "source.query", "level = 'error'")},
		{"query too long", "sls", "source.query", with(sls, "source.query", "* | "+strings.Repeat("x", 5000))},
	} {
		infos, err := w.Validate(context.Background(), tc.plugin, tc.config)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		found := false
		for _, c := range infos.Configs {
			if c.Value.Name == tc.field && len(c.Value.Errors) > 0 {
				found = true
			}
		}
		if infos.ErrorCount == 0 || !found {
			t.Errorf("%s: validation %+v does not name %s", tc.name, infos, tc.field)
		}
	}
	ok := with(mns, "sink.topic", "events")
	if infos, err := w.Validate(context.Background(), "mns", ok); err != nil || infos.ErrorCount != 0 {
		t.Fatalf("a topic alone: %+v, %v", infos, err)
	}
}
