package sls

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ferryhq/ferry/api"
	emu "github.com/ferryhq/ferry/internal/emulator/sls"
	"github.com/ferryhq/ferry/internal/emulator/sls/slstest"
)

// TestSourcePullBytesBounded: one pull's answer holds about
// fetch.max.bytes, the count asked for following the sizes of the log
// groups seen: a group larger than those before can overshoot it once,
// by itself, and a group larger than the bound is still read alone.
// Without the bound the first pull would hold all 40 groups (2.7 MB).
func TestSourcePullBytesBounded(t *testing.T) {
	t.Parallel()
	srv := slstest.Start(t, emu.Config{ShardCount: 1})
	const limit = 64 << 10
	sizes := []int{20 << 10, 20 << 10, 200 << 10, 30 << 10} // one group above the limit
	var largest int
	for i := range 40 {
		size := sizes[i%len(sizes)]
		largest = max(largest, size)
		var logs []emu.Log
		for range size / 1000 {
			logs = append(logs, emu.Log{Time: 1700000000, Contents: []emu.Pair{{Key: "body", Value: strings.Repeat("x", 990)}}})
		}
		if err := srv.Put("proj-bytes", "logs", 0, emu.LogGroup{Logs: logs}); err != nil {
			t.Fatal(err)
		}
	}
	raw := map[string]string{"endpoint": "http://" + srv.Addr(), "connect.address": srv.Addr(), "access.key.id": slstest.KeyID,
		"access.key.secret": slstest.Secret, "project": "proj-bytes", "logstore": "logs", "fetch.max.bytes": "65536"}
	c, err := Source.Spec.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	src, err := newSource(api.TaskConfig{Connector: "c", Tasks: 1, Config: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*source)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	s.tr.Use(ctx)
	sh := s.order[0]
	logs, pulls := 0, 0
	for logs < 40*1000 && pulls < 200 {
		if err := s.pullShard(ctx, sh); err != nil {
			t.Fatal(err)
		}
		if s.cur == nil {
			break
		}
		pulls++
		if n := len(s.cur.rest); n > limit+largest+4096 {
			t.Fatalf("pull %d held %d bytes, more than fetch.max.bytes %d or the largest group", pulls, n, limit)
		}
		for s.cur != nil {
			recs, err := s.events()
			if err != nil {
				t.Fatal(err)
			}
			logs += len(recs)
		}
	}
	want := 0
	for i := range 40 {
		want += sizes[i%len(sizes)] / 1000
	}
	if logs != want {
		t.Fatalf("read %d logs in %d pulls, want %d", logs, pulls, want)
	}
	if pulls < 20 {
		t.Fatalf("only %d pulls: the answers cannot have been bounded", pulls)
	}
}

// FuzzSourceDecode: any answer bytes either become events or fail with
// errMalformed; nothing panics, every event's data is valid JSON.
func FuzzSourceDecode(f *testing.F) {
	g := emu.AppendLogGroup(nil, emu.LogGroup{Topic: "t", Tags: []emu.Pair{{Key: "__pack_id__", Value: "p"}},
		Logs: []emu.Log{{Time: 1, TimeNs: 2, Contents: []emu.Pair{{Key: "k", Value: "v\x00\xff"}}}}})
	list := protowire.AppendTag(nil, fieldListGroups, protowire.BytesType)
	f.Add(protowire.AppendBytes(list, g))
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &source{batch: 7, project: "p", logstore: "l", stream: "p/l"}
		sh := &shardState{id: 1, name: "p/l/1", idPrefix: "p-l-1-"}
		s.cur = &pull{shard: sh, rest: data, req: position{cursor: "MA=="}, next: "MQ==", groups: 1, gi: -1, numbered: true}
		for i := 0; s.cur != nil && i < 1000; i++ {
			recs, err := s.events()
			if err != nil {
				if !errors.Is(err, errMalformed) || !api.IsFatal(err) {
					t.Fatalf("error %v is not a fatal errMalformed", err)
				}
				return
			}
			for _, r := range recs {
				if !api.ValidJSON(r.Event.Data) {
					t.Fatalf("data %q is not JSON", r.Event.Data)
				}
				if _, err := parsePosition(r.Position); err != nil {
					t.Fatalf("position %q: %v", r.Position, err)
				}
			}
		}
	})
}

// FuzzParsePosition: a position that parses prints back to itself.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"MA==", "MTIz@5", "@1", "x@0", "x@-1", "a b", "MA==@1@2", strings.Repeat("A", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePosition(api.Position(s))
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("%q parsed as %+v, prints %q", s, p, p.String())
		}
	})
}

func TestRegionOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"cn-hangzhou.log.aliyuncs.com":                  "cn-hangzhou",
		"https://cn-shanghai-intranet.log.aliyuncs.com": "cn-shanghai",
		"http://127.0.0.1:18001":                        "",
		"example.com":                                   "",
	} {
		if got := regionOf(in); got != want {
			t.Errorf("regionOf(%q) = %q, want %q", in, got, want)
		}
	}
}
