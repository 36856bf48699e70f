package sls_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ferryhq/ferry/internal/emulator/sls"
)

// TestClientPutPull drives the SDK through the whole write/read path with
// each body compression: create project and logstore, ListShards, PutLogs,
// GetCursor begin/end, PullLogs (lz4 and zstd responses) reading back
// exactly what was put.
func TestClientPutPull(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		putCompress  int
		pullCompress int
	}{
		{"lz4 put, lz4 pull", aliyun.Compress_LZ4, aliyun.Compress_LZ4},
		{"zstd put, zstd pull", aliyun.Compress_ZSTD, aliyun.Compress_ZSTD},
		{"no compression put, lz4 pull", aliyun.Compress_None, aliyun.Compress_LZ4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, sls.Config{RequireCreate: true})
			c := newClient(t, srv, testSecret)
			const project, logstore = "proj-a", "store-a"

			if _, err := c.CreateProject(project, "test project"); err != nil {
				t.Fatalf("CreateProject: %v", err)
			}
			if ok, err := c.CheckProjectExist(project); err != nil || !ok {
				t.Fatalf("CheckProjectExist = %v, %v", ok, err)
			}
			if err := c.CreateLogStore(project, logstore, 1, 3, false, 0); err != nil {
				t.Fatalf("CreateLogStore: %v", err)
			}
			ls, err := c.GetLogStore(project, logstore)
			if err != nil || ls.ShardCount != 3 {
				t.Fatalf("GetLogStore = %+v, %v", ls, err)
			}
			shards, err := c.ListShards(project, logstore)
			if err != nil {
				t.Fatalf("ListShards: %v", err)
			}
			if len(shards) != 3 || shards[0].InclusiveBeginKey != strings.Repeat("0", 32) || shards[2].ExclusiveBeginKey != strings.Repeat("f", 32) {
				t.Fatalf("ListShards = %+v", shards)
			}

			var put []*aliyun.LogGroup
			for i := 0; i < 7; i++ {
				g := sdkGroup(fmt.Sprintf("topic-%d", i), fmt.Sprintf("g%d", i), 1+i*3)
				if err := c.PutLogsWithCompressType(project, logstore, g, tt.putCompress); err != nil {
					t.Fatalf("PutLogs: %v", err)
				}
				put = append(put, g)
			}
			// An incompressible group exercises the SDK's literal-only lz4.
			big := &aliyun.LogGroup{Logs: []*aliyun.Log{{Time: proto.Uint32(1), Contents: []*aliyun.LogContent{
				{Key: proto.String("seq"), Value: proto.String("random")},
				{Key: proto.String("blob"), Value: proto.String(randomString(3000))},
			}}}}
			if err := c.PutLogsWithCompressType(project, logstore, big, tt.putCompress); err != nil {
				t.Fatalf("PutLogs incompressible: %v", err)
			}
			put = append(put, big)

			var got []*aliyun.LogGroup
			for _, sh := range shards {
				begin, err := c.GetCursor(project, logstore, sh.ShardID, "begin")
				if err != nil {
					t.Fatalf("GetCursor begin: %v", err)
				}
				groups := pullAll(t, c, project, logstore, sh.ShardID, begin, tt.pullCompress)
				if len(groups) == 0 {
					t.Errorf("shard %d got no log groups; writes without a hash key should spread", sh.ShardID)
				}
				got = append(got, groups...)

				end, err := c.GetCursor(project, logstore, sh.ShardID, "end")
				if err != nil {
					t.Fatalf("GetCursor end: %v", err)
				}
				gl, next, err := c.PullLogs(project, logstore, sh.ShardID, end, "", 10)
				if err != nil || len(gl.LogGroups) != 0 || next != end {
					t.Fatalf("PullLogs at end = %d groups, next %q (end %q), %v", len(gl.GetLogGroups()), next, end, err)
				}
			}
			if want, have := flatten(put), flatten(got); !reflect.DeepEqual(want, have) {
				t.Fatalf("read back differs:\nwant %q\n got %q", want, have)
			}
		})
	}
}

func randomString(n int) string {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return string(b)
}

// TestPullLogsEndCursorAndCursors checks end_cursor bounds a pull and that
// the SDK can number the returned groups (x-log-read-last-cursor).
func TestPullLogsEndCursorAndCursors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, sls.Config{ShardCount: 1})
	c := newClient(t, srv, testSecret)
	for i := 0; i < 5; i++ {
		if err := c.PutLogs("p", "s", sdkGroup("t", fmt.Sprintf("g%d", i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	begin, _ := c.GetCursor("p", "s", 0, "begin")
	gl, next, err := c.PullLogs("p", "s", 0, begin, "", 3)
	if err != nil || len(gl.LogGroups) != 3 {
		t.Fatalf("PullLogs = %d, %v", len(gl.GetLogGroups()), err)
	}
	for i, g := range gl.LogGroups {
		if want := encodeCursorForTest(i); g.GetCursor() != want {
			t.Fatalf("group %d cursor %q, want %q", i, g.GetCursor(), want)
		}
	}
	// From the 4th group, bounded by an end cursor one past it.
	gl, next2, err := c.PullLogs("p", "s", 0, next, encodeCursorForTest(4), 100)
	if err != nil || len(gl.LogGroups) != 1 || next2 != encodeCursorForTest(4) || seqs(gl.LogGroups)[0] != "g3-0" {
		t.Fatalf("PullLogs to end cursor = %v next %q, %v", seqs(gl.GetLogGroups()), next2, err)
	}
	if _, _, err := c.PullLogs("p", "s", 0, encodeCursorForTest(99), "", 1); err == nil || !strings.Contains(err.Error(), "InvalidCursor") {
		t.Fatalf("pull past the end: err = %v, want InvalidCursor", err)
	}
}

func encodeCursorForTest(n int) string {
	return strings.TrimSpace(base64Std(fmt.Sprint(n)))
}

// TestGetCursorFromTime maps a unix time to the first log group received at
// or after it, and GetCursorTime back to the receive time.
func TestGetCursorFromTime(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := startServer(t, sls.Config{ShardCount: 1, Now: clock.Now})
	c := newClient(t, srv, testSecret)

	t0 := clock.Now().Unix()
	if err := c.PutLogs("p", "s", sdkGroup("t", "early", 2)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	t1 := clock.Now().Unix()
	if err := c.PutLogs("p", "s", sdkGroup("t", "late", 3)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		from int64
		want []string
	}{
		{"before everything", t0 - 100, []string{"early-0", "early-1", "late-0", "late-1", "late-2"}},
		{"exactly the first", t0, []string{"early-0", "early-1", "late-0", "late-1", "late-2"}},
		{"between", t0 + 60, []string{"late-0", "late-1", "late-2"}},
		{"exactly the second", t1, []string{"late-0", "late-1", "late-2"}},
		{"after everything", t1 + 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cur, err := c.GetCursor("p", "s", 0, fmt.Sprint(tt.from))
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(pullAll(t, c, "p", "s", 0, cur, aliyun.Compress_LZ4)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("from %d: got %v, want %v", tt.from, got, tt.want)
			}
		})
	}
	ct, err := c.GetCursorTime("p", "s", 0, encodeCursorForTest(1))
	if err != nil || ct.Unix() != t1 {
		t.Fatalf("GetCursorTime = %v, %v; want %d", ct.Unix(), err, t1)
	}
	if _, err := c.GetCursor("p", "s", 0, "yesterday"); err == nil {
		t.Fatal("GetCursor from an invalid value succeeded")
	}
}

// TestHashKeyRouting: PostLogStoreLogs with a hash key lands in the shard
// whose range holds it.
func TestHashKeyRouting(t *testing.T) {
	t.Parallel()
	srv := startServer(t, sls.Config{ShardCount: 4})
	c := newClient(t, srv, testSecret)
	tests := []struct {
		key   string
		shard int
	}{
		{strings.Repeat("0", 32), 0},
		{"3fffffffffffffffffffffffffffffff", 0},
		{"40000000000000000000000000000000", 1},
		{"9A", 2},
		{strings.Repeat("f", 32), 3},
	}
	for i, tt := range tests {
		key := tt.key
		if err := c.PostLogStoreLogs("p", "s", sdkGroup("t", fmt.Sprintf("k%d", i), 1), &key); err != nil {
			t.Fatalf("key %s: %v", tt.key, err)
		}
		groups, err := srv.LogGroups("p", "s", tt.shard)
		if err != nil {
			t.Fatal(err)
		}
		last := groups[len(groups)-1]
		if last.Logs[0].Contents[0].Value != fmt.Sprintf("k%d-0", i) {
			t.Fatalf("key %s did not land in shard %d", tt.key, tt.shard)
		}
	}
	bad := "not-hex"
	if err := c.PostLogStoreLogs("p", "s", sdkGroup("t", "bad", 1), &bad); err == nil {
		t.Fatal("a non-hex hash key was accepted")
	}
}

// TestAuth: a wrong secret or key id is refused with 401 and SLS's JSON
// error, which the SDK surfaces as *sls.Error, under signature v1 and v4.
func TestAuth(t *testing.T) {
	t.Parallel()
	srv := startServer(t, sls.Config{})
	tests := []struct {
		name     string
		keyID    string
		secret   string
		wantCode string
	}{
		{"wrong secret", testKeyID, "not-the-secret", "SignatureNotMatch"},
		{"unknown key id", "someone-else", testSecret, "Unauthorized"},
	}
	for _, v := range []aliyun.AuthVersionType{aliyun.AuthV1, aliyun.AuthV4} {
		for _, tt := range tests {
			t.Run(string(v)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				c := aliyun.CreateNormalInterface(srv.Endpoint(), tt.keyID, tt.secret, "")
				c.SetHTTPClient(srv.HTTPClient())
				c.SetAuthVersion(v)
				c.SetRegion("cn-hangzhou")
				for name, call := range map[string]func() error{
					"PutLogs":    func() error { return c.PutLogs("p", "s", sdkGroup("t", "x", 1)) },
					"ListShards": func() error { _, err := c.ListShards("p", "s"); return err },
				} {
					err := call()
					var slsErr *aliyun.Error
					if !errors.As(err, &slsErr) {
						t.Fatalf("%s: err = %T %v, want *sls.Error", name, err, err)
					}
					if slsErr.HTTPCode != http.StatusUnauthorized || slsErr.Code != tt.wantCode || slsErr.RequestID == "" {
						t.Fatalf("%s: got %+v, want 401 %s with a request id", name, slsErr, tt.wantCode)
					}
				}
			})
		}
	}

	t.Run("unsigned request", func(t *testing.T) {
		t.Parallel()
		resp, err := srv.HTTPClient().Get(srv.Endpoint() + "/logstores")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"errorCode":"Unauthorized"`) {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})
}

// TestRequireCreate: with creation on first use off, unknown names get the
// SLS not-exist errors.
func TestRequireCreate(t *testing.T) {
	t.Parallel()
	srv := startServer(t, sls.Config{RequireCreate: true})
	c := newClient(t, srv, testSecret)
	if ok, err := c.CheckProjectExist("nope"); err != nil || ok {
		t.Fatalf("CheckProjectExist = %v, %v", ok, err)
	}
	var slsErr *aliyun.Error
	if err := c.PutLogs("nope", "s", sdkGroup("t", "x", 1)); !errors.As(err, &slsErr) || slsErr.Code != "ProjectNotExist" {
		t.Fatalf("PutLogs to unknown project: %v", err)
	}
	if _, err := c.CreateProject("yes", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateProject("yes", ""); !errors.As(err, &slsErr) || slsErr.Code != "ProjectAlreadyExist" {
		t.Fatalf("second CreateProject: %v", err)
	}
	if _, err := c.ListShards("yes", "s"); !errors.As(err, &slsErr) || slsErr.Code != "LogStoreNotExist" || slsErr.HTTPCode != 404 {
		t.Fatalf("ListShards of unknown logstore: %v", err)
	}
	if err := c.CreateLogStore("yes", "s", 1, 2, false, 0); err != nil {
		t.Fatal(err)
	}
	if names, err := c.ListLogStore("yes"); err != nil || !reflect.DeepEqual(names, []string{"s"}) {
		t.Fatalf("ListLogStore = %v, %v", names, err)
	}
	if err := c.DeleteLogStore("yes", "s"); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.CheckLogstoreExist("yes", "s"); err != nil || ok {
		t.Fatalf("CheckLogstoreExist after delete = %v, %v", ok, err)
	}
}

// TestPutMalformed: bytes that are not a LogGroup are refused with
// PostBodyInvalid, whatever the compression, and nothing is stored.
func TestPutMalformed(t *testing.T) {
	t.Parallel()
	srv := startServer(t, sls.Config{ShardCount: 1})
	c := newClient(t, srv, testSecret)
	for _, ct := range []int{aliyun.Compress_LZ4, aliyun.Compress_ZSTD, aliyun.Compress_None} {
		err := c.PutRawLogWithCompressType("p", "s", []byte{0x0a, 0x05, 0x08}, ct)
		var slsErr *aliyun.Error
		if !errors.As(err, &slsErr) || slsErr.HTTPCode != http.StatusBadRequest || slsErr.Code != "PostBodyInvalid" {
			t.Fatalf("compress %d: err = %v, want 400 PostBodyInvalid", ct, err)
		}
	}
	if groups, err := srv.LogGroups("p", "s", 0); err != nil || len(groups) != 0 {
		t.Fatalf("stored %d groups, %v", len(groups), err)
	}
}
