package sls_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/aliyun-log-go-sdk/producer"
	"github.com/go-kit/kit/log"

	"github.com/ferryhq/ferry/internal/emulator/sls"
)

type countingCallback struct{ ok, failed atomic.Int64 }

func (c *countingCallback) Success(*producer.Result) { c.ok.Add(1) }
func (c *countingCallback) Fail(*producer.Result)    { c.failed.Add(1) }

// TestProducer: logs sent through the SDK's producer library (batched,
// compressed, some with a shard hash) all arrive.
func TestProducer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		compress int
	}{
		{"lz4", aliyun.Compress_LZ4},
		{"zstd", aliyun.Compress_ZSTD},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, sls.Config{ShardCount: 2})
			cfg := producer.GetDefaultProducerConfig()
			cfg.Endpoint = srv.Endpoint()
			cfg.AccessKeyID, cfg.AccessKeySecret = testKeyID, testSecret
			hc := srv.HTTPClient()
			t.Cleanup(hc.CloseIdleConnections)
			cfg.HTTPClient = hc
			cfg.Logger = log.NewNopLogger()
			cfg.LingerMs = 100
			cfg.MaxBatchCount = 40
			cfg.CompressType = tt.compress
			cfg.DisableRuntimeMetrics = true
			p, err := producer.NewProducer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			p.Start()

			cb := &countingCallback{}
			var want []string
			now := uint32(time.Now().Unix())
			// The SDK's client initialises itself unlocked on first use
			// (a data race when io workers start together). One log sent
			// and acknowledged first makes that use happen before the rest.
			want = append(want, "first")
			if err := p.SendLogWithCallBack("proj", "store", "topic", "src", producer.GenerateLog(now, map[string]string{"seq": "first"}), cb); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the first log to be acknowledged", func() bool { return cb.ok.Load()+cb.failed.Load() == 1 })
			for i := 0; i < 150; i++ {
				seq := fmt.Sprintf("plain-%03d", i)
				want = append(want, seq)
				if err := p.SendLogWithCallBack("proj", "store", "topic", "src", producer.GenerateLog(now, map[string]string{"seq": seq}), cb); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 30; i++ {
				seq := fmt.Sprintf("hashed-%03d", i)
				want = append(want, seq)
				if err := p.HashSendLogWithCallBack("proj", "store", "user-42", "topic", "src", producer.GenerateLog(now, map[string]string{"seq": seq}), cb); err != nil {
					t.Fatal(err)
				}
			}
			p.SafeClose()
			if cb.failed.Load() != 0 || cb.ok.Load() != int64(len(want)) {
				t.Fatalf("callbacks: %d ok, %d failed; want %d ok", cb.ok.Load(), cb.failed.Load(), len(want))
			}

			var got []string
			hashedShards := map[int]bool{}
			for shard := 0; shard < 2; shard++ {
				groups, err := srv.LogGroups("proj", "store", shard)
				if err != nil {
					t.Fatal(err)
				}
				for _, g := range groups {
					if g.Topic != "topic" || g.Source != "src" {
						t.Fatalf("group topic/source = %q/%q", g.Topic, g.Source)
					}
					for _, l := range g.Logs {
						for _, c := range l.Contents {
							if c.Key == "seq" {
								got = append(got, c.Value)
								if strings.HasPrefix(c.Value, "hashed") {
									hashedShards[shard] = true
								}
							}
						}
					}
				}
			}
			sort.Strings(got)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("stored %d logs, want %d: %v", len(got), len(want), got)
			}
			if len(hashedShards) != 1 {
				t.Fatalf("logs with one shard hash landed in shards %v", hashedShards)
			}
		})
	}
}
