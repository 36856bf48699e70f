package sls_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ferryhq/ferry/internal/emulator/sls"
	"github.com/ferryhq/ferry/internal/emulator/sls/slstest"
)

const (
	testKeyID  = slstest.KeyID
	testSecret = slstest.Secret
)

// startServer runs an emulator on a free loopback port for one test.
func startServer(t *testing.T, cfg sls.Config) *sls.Server { return slstest.Start(t, cfg) }

// newClient returns an SDK client for srv signing with the given secret.
func newClient(t *testing.T, srv *sls.Server, secret string) aliyun.ClientInterface {
	t.Helper()
	c := aliyun.CreateNormalInterface(srv.Endpoint(), testKeyID, secret, "")
	hc := srv.HTTPClient()
	c.SetHTTPClient(hc)
	t.Cleanup(hc.CloseIdleConnections)
	return c
}

// newClientAt returns an SDK client for an endpoint reached through hc.
func newClientAt(endpoint string, hc *http.Client) aliyun.ClientInterface {
	c := aliyun.CreateNormalInterface(endpoint, testKeyID, testSecret, "")
	c.SetHTTPClient(hc)
	return c
}

// fakeClock is a settable clock close to real time, so request Dates stay
// within the server's skew window.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now().Add(-5 * time.Minute).Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// sdkGroup builds an SDK LogGroup of n logs whose "seq" contents are
// prefix-0 … prefix-(n-1).
func sdkGroup(topic, prefix string, n int) *aliyun.LogGroup {
	g := &aliyun.LogGroup{Topic: proto.String(topic), Source: proto.String("127.0.0.1")}
	for i := 0; i < n; i++ {
		g.Logs = append(g.Logs, &aliyun.Log{
			Time: proto.Uint32(uint32(1700000000 + i)),
			Contents: []*aliyun.LogContent{
				{Key: proto.String("seq"), Value: proto.String(fmt.Sprintf("%s-%d", prefix, i))},
				{Key: proto.String("body"), Value: proto.String(strings.Repeat("x", i%7))},
			},
		})
	}
	g.LogTags = []*aliyun.LogTag{{Key: proto.String("origin"), Value: proto.String(prefix)}}
	return g
}

// flatten renders every log of the groups as one comparable line.
func flatten(groups []*aliyun.LogGroup) []string {
	var out []string
	for _, g := range groups {
		var tags []string
		for _, tg := range g.LogTags {
			tags = append(tags, tg.GetKey()+"="+tg.GetValue())
		}
		for _, l := range g.Logs {
			var kv []string
			for _, c := range l.Contents {
				kv = append(kv, c.GetKey()+"="+c.GetValue())
			}
			out = append(out, fmt.Sprintf("%s|%s|%d|%s|%s", g.GetTopic(), g.GetSource(), l.GetTime(), strings.Join(kv, ","), strings.Join(tags, ",")))
		}
	}
	sort.Strings(out)
	return out
}

// seqs returns the "seq" values of the logs, sorted.
func seqs(groups []*aliyun.LogGroup) []string {
	var out []string
	for _, g := range groups {
		for _, l := range g.Logs {
			for _, c := range l.Contents {
				if c.GetKey() == "seq" {
					out = append(out, c.GetValue())
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// pullAll reads a shard from cursor to its end through the SDK.
func pullAll(t *testing.T, c aliyun.ClientInterface, project, logstore string, shard int, cursor string, compressType int) []*aliyun.LogGroup {
	t.Helper()
	var out []*aliyun.LogGroup
	for i := 0; i < 1000; i++ {
		gl, meta, err := c.PullLogsWithQuery(&aliyun.PullLogRequest{
			Project: project, Logstore: logstore, ShardID: shard, Cursor: cursor,
			LogGroupMaxCount: 2, CompressType: compressType,
		})
		if err != nil {
			t.Fatalf("PullLogs shard %d: %v", shard, err)
		}
		out = append(out, gl.LogGroups...)
		if meta.NextCursor == cursor {
			return out
		}
		cursor = meta.NextCursor
	}
	t.Fatal("PullLogs never reached the end")
	return nil
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
