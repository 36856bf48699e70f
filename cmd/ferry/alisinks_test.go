package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/ferryhq/ferry/state"
	ferryworker "github.com/ferryhq/ferry/worker"
)

// TestAliyunSinksValidate: the sls and mns sinks are registered, and the
// validate endpoint's answer names the field a bad value is in (what the
// REST API returns as a 400 on create).
func TestAliyunSinksValidate(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := ferryworker.New(ferryworker.Config{WorkerID: "w", Store: state.NewMemory(), Registry: registry(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		plugin, field string
		config        map[string]string
	}{
		{"sls", "sink.logstore", map[string]string{"source": "generator", "sink": "sls", "sink.endpoint": "cn-hangzhou.log.aliyuncs.com",
			"sink.access.key.id": "id", "sink.access.key.secret": "s", "sink.project": "orders", "sink.logstore": "Bad Store"}},
		{"sls", "sink.endpoint", map[string]string{"source": "generator", "sink": "sls", "sink.endpoint": "http://x/y",
			"sink.access.key.id": "id", "sink.access.key.secret": "s", "sink.project": "orders", "sink.logstore": "events"}},
		{"mns", "sink.queue", map[string]string{"source": "generator", "sink": "mns", "sink.endpoint": "https://1.mns.cn-hangzhou.aliyuncs.com",
			"sink.access.key.id": "id", "sink.access.key.secret": "s", "sink.queue": "a&b"}},
		{"mns", "sink.priority", map[string]string{"source": "generator", "sink": "mns", "sink.endpoint": "https://1.mns.cn-hangzhou.aliyuncs.com",
			"sink.access.key.id": "id", "sink.access.key.secret": "s", "sink.queue": "orders", "sink.priority": "99"}},
	} {
		infos, err := w.Validate(context.Background(), tc.plugin, tc.config)
		if err != nil {
			t.Fatalf("%s: %v", tc.plugin, err)
		}
		found := false
		for _, c := range infos.Configs {
			if c.Value.Name == tc.field && len(c.Value.Errors) > 0 {
				found = true
			}
		}
		if infos.ErrorCount == 0 || !found {
			t.Errorf("%s: validation %+v does not name %s", tc.plugin, infos, tc.field)
		}
	}
}
