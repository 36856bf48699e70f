package sls_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ferryhq/ferry/internal/emulator/sls"
)

// levelGroup is a group of logs n=<from>… with level error for odd n.
func levelGroup(topic string, from, n int) *aliyun.LogGroup {
	g := &aliyun.LogGroup{Topic: proto.String(topic)}
	for i := from; i < from+n; i++ {
		level := "info"
		if i%2 == 1 {
			level = "error"
		}
		g.Logs = append(g.Logs, &aliyun.Log{Time: proto.Uint32(1700000000), Contents: []*aliyun.LogContent{
			{Key: proto.String("n"), Value: proto.String(strconv.Itoa(i))},
			{Key: proto.String("level"), Value: proto.String(level)},
			{Key: proto.String("msg"), Value: proto.String("it's log " + strconv.Itoa(i))},
		}})
	}
	return g
}

// TestPullQuery: PullLogs with an SPL query, through the SDK's
// PullLogsWithQuery: filtered and projected logs, groups with no log left
// omitted, the cursor still past every group read, and the before/after
// figures SLS reports.
func TestPullQuery(t *testing.T) {
	t.Parallel()
	srv := startServer(t, sls.Config{ShardCount: 1})
	c := newClient(t, srv, testSecret)
	for i, topic := range []string{"a", "b", "a"} {
		if err := c.PutLogs("proj", "store", levelGroup(topic, i*4, 4)); err != nil {
			t.Fatal(err)
		}
	}
	// A group of info logs only: filtered away whole.
	info := levelGroup("a", 100, 1)
	if err := c.PutLogs("proj", "store", info); err != nil {
		t.Fatal(err)
	}
	begin, err := c.GetCursor("proj", "store", 0, "begin")
	if err != nil {
		t.Fatal(err)
	}
	pull := func(query string) ([]string, *aliyun.PullLogMeta, error) {
		gl, meta, err := c.PullLogsWithQuery(&aliyun.PullLogRequest{Project: "proj", Logstore: "store", ShardID: 0,
			Cursor: begin, LogGroupMaxCount: 10, Query: query})
		if err != nil {
			return nil, nil, err
		}
		var out []string
		for _, g := range gl.LogGroups {
			for _, l := range g.Logs {
				var kv []string
				for _, ct := range l.Contents {
					kv = append(kv, ct.GetKey()+"="+ct.GetValue())
				}
				out = append(out, g.GetTopic()+":"+strings.Join(kv, ","))
			}
		}
		return out, meta, nil
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"*", nil}, // every log: checked by count below
		{"* | where level = 'error'", []string{"a:n=1,level=error,msg=it's log 1", "a:n=3,level=error,msg=it's log 3",
			"b:n=5,level=error,msg=it's log 5", "b:n=7,level=error,msg=it's log 7", "a:n=9,level=error,msg=it's log 9", "a:n=11,level=error,msg=it's log 11"}},
		{`* | where "level" = 'error' and __topic__ = 'b' | project n`, []string{"b:n=5", "b:n=7"}},
		{"* | project msg, n | where n != '2'", []string{"a:msg=it's log 0,n=0", "a:msg=it's log 1,n=1", "a:msg=it's log 3,n=3",
			"b:msg=it's log 4,n=4", "b:msg=it's log 5,n=5", "b:msg=it's log 6,n=6", "b:msg=it's log 7,n=7",
			"a:msg=it's log 8,n=8", "a:msg=it's log 9,n=9", "a:msg=it's log 10,n=10", "a:msg=it's log 11,n=11", "a:msg=it's log 100,n=100"}},
		{"* | where msg = 'it''s log 4'", []string{"b:n=4,level=info,msg=it's log 4"}},
		{"* | where missing != 'x'", []string{}},
	} {
		got, meta, err := pull(tc.query)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if tc.query == "*" {
			if len(got) != 13 {
				t.Fatalf("*: %d logs, want 13", len(got))
			}
		} else if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Fatalf("%s:\n got %q\nwant %q", tc.query, got, tc.want)
		}
		if meta.DataCountBeforeQuery != 4 || meta.LinesBeforeQuery != 13 || meta.Lines != len(got) || meta.RawSizeBeforeQuery == 0 {
			t.Fatalf("%s: meta %+v", tc.query, meta)
		}
		end, _ := c.GetCursor("proj", "store", 0, "end")
		if meta.NextCursor != end {
			t.Fatalf("%s: next cursor %s, want the end %s: the cursor moves past filtered groups", tc.query, meta.NextCursor, end)
		}
	}
	_, meta, err := pull("* | where level = 'error' and n = '100'")
	if err != nil || meta.Count != 0 {
		t.Fatalf("nothing matches: count %d, %v; want 0 groups", meta.Count, err)
	}

	for _, bad := range []string{
		"level = 'error'",                    // no leading *
		"* | stats count(*)",                 // another command
		"* | where cast(n as bigint) > 3",    // functions
		"* | where level = 'error' or n='1'", // or
		"* | where level = error",            // unquoted text
		"* | where level = 'error",           // unterminated
		"* | project",                        // no field
		"* where level = 'x'",                // no |
		"* | where n > '3'",                  // other operators
		strings.Repeat("*", 5000),            // too long
	} {
		_, _, err := pull(bad)
		var e *aliyun.Error
		if !errors.As(err, &e) || e.Code != "ParameterInvalid" || !strings.Contains(e.Message, "query") {
			t.Errorf("%q: got %v, want ParameterInvalid", bad, err)
		}
	}
}
