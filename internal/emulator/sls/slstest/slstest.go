// Package slstest is test support for code that talks to SLS: the test
// bed's SLS emulator or a private one started for a test, an official-SDK
// client for it, and logstores created and read back through the SDK.
// It is a non-test package so that every package's tests (the sls
// connector's, the emulator's own, end-to-end tests) share one copy.
package slstest

import (
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ferryhq/ferry/internal/emulator/sls"
	"github.com/ferryhq/ferry/internal/testbed"
)

// The access key of a private emulator when its Config names none.
const (
	KeyID  = "ferry-test"
	Secret = "ferry-test-secret"
)

// Bed is one SLS to test against, reached at Addr (host:port) with the
// access key ID/Secret.
type Bed struct {
	Addr, ID, Secret string
}

// Testbed is the test bed's emulator; it skips or fails the test as
// internal/testbed does when the emulator is not running.
func Testbed(t testing.TB) Bed {
	t.Helper()
	c := testbed.SLS(t)
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return Bed{Addr: u.Host, ID: c.AccessKeyID, Secret: c.AccessKeySecret}
}

// Start runs an emulator with cfg on a free loopback port until the test
// ends. cfg's access key defaults to KeyID and Secret.
func Start(t testing.TB, cfg sls.Config) *sls.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.AccessKeyID == "" {
		cfg.AccessKeyID, cfg.AccessKeySecret = KeyID, Secret
	}
	srv, err := sls.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// Private is Start as a Bed, for what the shared emulator must not have
// (faults, a clock set back, a rule changed).
func Private(t testing.TB, cfg sls.Config) (Bed, *sls.Server) {
	t.Helper()
	srv := Start(t, cfg)
	id, secret := cfg.AccessKeyID, cfg.AccessKeySecret
	if id == "" {
		id, secret = KeyID, Secret
	}
	return Bed{Addr: srv.Addr(), ID: id, Secret: secret}, srv
}

// Endpoint is the endpoint to give the SDK (the emulator's own address:
// the SDK puts the project in front of it, and the client dials Addr).
func (b Bed) Endpoint() string { return "http://" + b.Addr }

// Client is the official SDK alone against b, signing with signature v1.
func (b Bed) Client() *aliyun.Client {
	cli := aliyun.CreateNormalInterface(b.Endpoint(), b.ID, b.Secret, "").(*aliyun.Client)
	cli.SetHTTPClient(sls.NewHTTPClient(b.Addr))
	return cli
}

var seq atomic.Int64

// Name is a fresh name starting with prefix, for a project, logstore or
// group that no other test uses.
func Name(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

// Store creates project and logstore (with shards shards) with the SDK.
func (b Bed) Store(t testing.TB, project, logstore string, shards int) {
	t.Helper()
	cli := b.Client()
	if _, err := cli.CreateProject(project, "ferry test"); err != nil {
		t.Fatalf("create project %s: %v", project, err)
	}
	if err := cli.CreateLogStore(project, logstore, 1, shards, false, 0); err != nil {
		t.Fatalf("create logstore %s: %v", logstore, err)
	}
}

// ReadAll pulls every log group of every shard with the SDK, from the
// beginning to the end.
func (b Bed) ReadAll(t testing.TB, project, logstore string) []*aliyun.LogGroup {
	t.Helper()
	hc := sls.NewHTTPClient(b.Addr)
	defer hc.CloseIdleConnections() // no connection goroutine outlives the read
	cli := b.Client()
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
