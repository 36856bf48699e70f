package sls_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ferryhq/ferry/internal/emulator/sls"
)

// v4Client is an SDK client signing with AuthV4 for region.
func v4Client(t *testing.T, srv *sls.Server, secret, region string) aliyun.ClientInterface {
	t.Helper()
	c := newClient(t, srv, secret)
	c.SetAuthVersion(aliyun.AuthV4)
	c.SetRegion(region)
	return c
}

// TestSignatureV4: the SDK's AuthV4 requests verify for every kind of call
// a connector makes — bodies (PutLogs, lz4), queries with characters to
// escape (consumer names, cursors), GETs without a body — and the logs
// come back.
func TestSignatureV4(t *testing.T) {
	t.Parallel()
	srv := startServer(t, sls.Config{ShardCount: 2})
	c := v4Client(t, srv, testSecret, "cn-hangzhou")
	if _, err := c.CreateProject("proj-v4", "v4"); err != nil {
		t.Fatalf("create project: %v", err)
	}
	if err := c.CreateLogStore("proj-v4", "store", 1, 2, false, 0); err != nil {
		t.Fatalf("create logstore: %v", err)
	}
	if err := c.PutLogs("proj-v4", "store", sdkGroup("t", "v4", 5)); err != nil {
		t.Fatalf("put: %v", err)
	}
	var got []*aliyun.LogGroup
	for _, shard := range []int{0, 1} {
		cursor, err := c.GetCursor("proj-v4", "store", shard, "begin")
		if err != nil {
			t.Fatalf("cursor: %v", err)
		}
		got = append(got, pullAll(t, c, "proj-v4", "store", shard, cursor, aliyun.Compress_LZ4)...)
	}
	if s := seqs(got); !slices.Equal(s, []string{"v4-0", "v4-1", "v4-2", "v4-3", "v4-4"}) {
		t.Fatalf("read back %v", s)
	}
	if err := c.CreateConsumerGroup("proj-v4", "store", aliyun.ConsumerGroup{ConsumerGroupName: "g", Timeout: 30}); err != nil {
		t.Fatal(err)
	}
	for _, consumer := range []string{"plain", "with space", "a+b=c&d", "ünïcødé/slash", "100%"} {
		if _, err := c.HeartBeat("proj-v4", "store", "g", consumer, []int{}); err != nil {
			t.Fatalf("heartbeat as %q: %v", consumer, err)
		}
	}
	end, err := c.GetCursor("proj-v4", "store", 0, "end")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateCheckpoint("proj-v4", "store", "g", "plain", 0, end, true); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	// Any region verifies: the emulator is one region's endpoint and takes
	// the region the request was signed for.
	if _, err := v4Client(t, srv, testSecret, "ap-southeast-1").ListShards("proj-v4", "store"); err != nil {
		t.Fatalf("another region: %v", err)
	}
}

// TestSignatureV4Refused: what a v4 request gets wrong is refused with
// SLS's codes.
func TestSignatureV4Refused(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := startServer(t, sls.Config{Now: clock.Now, MaxClockSkew: time.Minute})
	clock.Advance(time.Hour) // the server's clock an hour ahead of the SDK's (5 min behind real time)
	for _, tc := range []struct {
		name, secret, code string
	}{
		{"stale x-log-date", testSecret, "RequestTimeExpired"},
	} {
		_, err := v4Client(t, srv, tc.secret, "cn-hangzhou").ListShards("p", "s")
		var e *aliyun.Error
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Fatalf("%s: got %v, want %s", tc.name, err, tc.code)
		}
	}

	// A request whose body does not match its x-log-content-sha256.
	srv2 := startServer(t, sls.Config{})
	hc := srv2.HTTPClient()
	inner := hc.Transport
	hc.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost {
			r.Header.Set("x-log-content-sha256", "00"+r.Header.Get("x-log-content-sha256")[2:])
		}
		return inner.RoundTrip(r)
	})
	c := aliyun.CreateNormalInterface(srv2.Endpoint(), testKeyID, testSecret, "")
	c.SetHTTPClient(hc)
	c.SetAuthVersion(aliyun.AuthV4)
	c.SetRegion("cn-hangzhou")
	err := c.PutLogs("p", "s", sdkGroup("t", "x", 1))
	var e *aliyun.Error
	if !errors.As(err, &e) || e.Code != "InvalidContentSha256" {
		t.Fatalf("tampered payload hash: got %v, want InvalidContentSha256", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
