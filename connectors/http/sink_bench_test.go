package http_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/generator"
)

// benchRecords reads one batch of n generator events (64-byte payloads),
// the events of Ferry's throughput benchmark.
func benchRecords(b *testing.B, n int) []api.Record {
	b.Helper()
	c, err := generator.Source.Spec.Parse(map[string]string{"batch.size": strconv.Itoa(n)})
	if err != nil {
		b.Fatal(err)
	}
	src, err := generator.Source.New(api.TaskConfig{Connector: "bench", Tasks: 1, Config: c, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	if err := src.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer src.Close(context.Background())
	recs, err := src.Read(context.Background())
	if err != nil || len(recs) != n {
		b.Fatalf("read %d records: %v", len(recs), err)
	}
	return recs
}

// noop answers 200 to everything, after reading the body.
func noop(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkSinkWrite measures events/s through the sink's Write against a
// local no-op server, beside a plain net/http client loop doing the same
// work per event (encode the structured event, POST it, read the answer)
// against the same server in the same run. One op is one event.
func BenchmarkSinkWrite(b *testing.B) {
	recs := benchRecords(b, 1024)
	srv := noop(b)
	perSec := func(b *testing.B) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	}

	plain := func(workers int) func(b *testing.B) {
		return func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: workers + 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := w; i < b.N; i += workers {
						ev := &recs[i%len(recs)].Event
						body, err := ev.AppendJSON(nil)
						if err != nil {
							b.Error(err)
							return
						}
						req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
						if err != nil {
							b.Error(err)
							return
						}
						req.Header.Set("Content-Type", "application/cloudevents+json; charset=UTF-8")
						resp, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							b.Errorf("status %d", resp.StatusCode)
							return
						}
					}
				})
			}
			wg.Wait()
			perSec(b)
		}
	}
	sink := func(cfg map[string]string) func(b *testing.B) {
		return func(b *testing.B) {
			full := map[string]string{"url": srv.URL}
			for k, v := range cfg {
				full[k] = v
			}
			s := openSink(b, full, nil)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				n := min(len(recs), b.N-done)
				if err := s.Write(ctx, recs[:n]); err != nil {
					b.Fatal(err)
				}
				done += n
			}
			perSec(b)
		}
	}
	b.Run("plain-client", plain(1))
	b.Run("batch=none", sink(nil))
	b.Run("plain-client-8-goroutines", plain(8))
	b.Run("batch=none/max.in.flight=8", sink(map[string]string{"max.in.flight": "8"}))
	b.Run("batch=json-array", sink(map[string]string{"batch": "json-array"}))
	b.Run("batch=json-array/max.in.flight=8", sink(map[string]string{"batch": "json-array", "max.in.flight": "8"}))
}
