package mns_test

import (
	"encoding/base64"
	"testing"
	"time"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"
	emu "github.com/ferryhq/ferry/internal/emulator/mns"
)

// BenchmarkWrite measures events/s into the test bed's MNS emulator: the
// sink's Write of engine-sized batches (1024 generator events of about
// 300 bytes, structured JSON, base64), beside the SDK alone sending the
// same bodies, prepared outside the timing, in BatchSendMessage calls of
// 16 from one goroutine. One op is one event. The queue is drained by
// nothing: the emulator keeps every message.
//
//	go test -run '^$' -bench BenchmarkWrite -benchmem -benchtime 50000x ./connectors/mns/
func BenchmarkWrite(b *testing.B) {
	bd := testbedMNS(b)
	recs := generate(b, 1024, 300)
	for _, c := range []struct {
		name string
		kv   []string
	}{
		{"sink", nil},
		{"sink/parallelism=1", []string{"send.parallelism", "1"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			queue := bd.Queue(b, "ferry-bench", 0)
			s := open(b, bd.config(queue, c.kv...))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += len(recs) {
				if err := write(s, recs[:min(len(recs), b.N-i)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
	b.Run("sdk-alone", func(b *testing.B) {
		queue := bd.Queue(b, "ferry-bench-sdk", 0)
		q := ali_mns.NewMNSQueue(queue, bd.Client())
		reqs := make([]ali_mns.MessageSendRequest, len(recs))
		for i := range recs {
			body, _ := recs[i].Event.AppendJSON(nil)
			reqs[i] = ali_mns.MessageSendRequest{MessageBody: base64.StdEncoding.EncodeToString(body), Priority: 8}
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i += 16 {
			j := i % len(reqs)
			if _, err := q.BatchSendMessage(reqs[j : j+min(16, b.N-i)]...); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	})
}

// BenchmarkPublish measures events/s published to a topic with no
// subscription on a private in-process emulator (the test bed's process
// may predate topics): the sink with topic=, beside the SDK alone making
// one PublishMessage call after another with the same bodies, prepared
// outside the timing. One op is one event.
//
//	go test -run '^$' -bench BenchmarkPublish -benchmem -benchtime 20000x ./connectors/mns/
func BenchmarkPublish(b *testing.B) {
	bd := private(b, emu.Config{})
	recs := generate(b, 1024, 300)
	for _, c := range []struct {
		name string
		kv   []string
	}{
		{"sink", nil},
		{"sink/parallelism=16", []string{"send.parallelism", "16"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := open(b, bd.config("", append([]string{"topic", bd.Topic(b, "ferry-bench")}, c.kv...)...))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += len(recs) {
				if err := write(s, recs[:min(len(recs), b.N-i)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
	b.Run("sdk-alone", func(b *testing.B) {
		t := ali_mns.NewMNSTopic(bd.Topic(b, "ferry-bench-sdk"), bd.Client())
		bodies := make([]string, len(recs))
		for i := range recs {
			body, _ := recs[i].Event.AppendJSON(nil)
			bodies[i] = base64.StdEncoding.EncodeToString(body)
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if _, err := t.PublishMessage(ali_mns.MessagePublishRequest{MessageBody: bodies[i%len(bodies)]}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	})
}
