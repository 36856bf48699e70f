package http_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/runtime"
)

// deadLetters is a dead-letter sink that keeps what it is given.
type deadLetters struct {
	mu   sync.Mutex
	recs []api.Record
}

func (d *deadLetters) Open(context.Context) error  { return nil }
func (d *deadLetters) Close(context.Context) error { return nil }
func (d *deadLetters) Write(_ context.Context, recs []api.Record) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recs = append(d.recs, recs...)
	return nil
}

// TestGeneratorToSinkScripted is the delivery check, through the
// real task runtime: generator → http sink with OAuth2 (tokens living two
// seconds) against a server answering by script, per event:
//
//	seq%8  answers                         outcome
//	0, 6   200                             delivered
//	1      429 Retry-After: 1, then 200    delivered, the retry ≥ 1 s later
//	2      503, then 200                   delivered
//	3      400 "bad order"                 dead-lettered with 400 and the body
//	4      401 (token revoked), then 200   delivered after exactly one token fetch
//	5      503, 503, then 200              delivered
//	7      404                             dead-lettered with 404
//
// Every event must be delivered exactly once (one 2xx) or dead-lettered
// with its status, and never both.
func TestGeneratorToSinkScripted(t *testing.T) {
	t.Parallel()
	const count = 24
	p := newIDP(t, 2*time.Second)
	ep := newEndpoint(t, nil)
	seqOf := func(id string) int {
		n, _ := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:])
		return n
	}
	ep.script = func(r *received, attempt int) answer {
		if why := p.check(r); why != "" {
			return answer{status: 401, body: why}
		}
		switch seq := seqOf(r.id()); {
		case seq%8 == 1 && attempt == 0:
			return answer{status: 429, header: map[string]string{"Retry-After": "1"}}
		case seq%8 == 2 && attempt == 0, seq%8 == 5 && attempt < 2:
			return answer{status: 503}
		case seq%8 == 3:
			return answer{status: 400, body: `{"message":"bad order ` + r.id() + `"}`}
		case seq%8 == 4 && attempt == 0:
			p.revoke(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			return answer{status: 401, body: "revoked"}
		case seq%8 == 7:
			return answer{status: 404}
		}
		return answer{status: 200}
	}

	gcfg, err := generator.Source.Spec.Parse(map[string]string{"count": strconv.Itoa(count), "batch.size": "5", "payload.bytes": "16"})
	if err != nil {
		t.Fatal(err)
	}
	src, err := generator.Source.New(api.TaskConfig{Connector: "gen", Tasks: 1, Config: gcfg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := buildSink(oauthConfig(p, ep.srv.URL+"/orders"), nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	dlq := &deadLetters{}
	var mu sync.Mutex
	committed := map[string]api.Position{}
	task, err := runtime.New(runtime.Config{
		Connector: "gen", Source: src, Sink: sink, DeadLetter: dlq, Tolerance: runtime.ToleranceAll,
		Committer: runtime.CommitFunc(func(o map[string]api.Position) error {
			mu.Lock()
			defer mu.Unlock()
			for k, v := range o {
				committed[k] = v
			}
			return nil
		}),
		Retry:  runtime.Retry{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := task.Run(ctx); err != nil || !task.Finished() {
		t.Fatalf("Run = %v, finished %v", err, task.Finished())
	}

	reqs := ep.requests()
	delivered := map[string]int{}
	last := map[string]received{}
	var waits []time.Duration
	for _, r := range reqs {
		id := r.id()
		if prev, ok := last[id]; ok && seqOf(id)%8 == 1 {
			waits = append(waits, r.At.Sub(prev.At))
		}
		if prev, ok := last[id]; ok && seqOf(id)%8 == 4 {
			// Exactly one token was fetched between the 401 and the retry.
			p.mu.Lock()
			n := 0
			for _, f := range p.fetches {
				if f.After(prev.At) && f.Before(r.At) {
					n++
				}
			}
			p.mu.Unlock()
			if n != 1 {
				t.Errorf("%s: %d token fetches between the 401 and its retry, want 1", id, n)
			}
		}
		last[id] = r
		if r.Status/100 == 2 {
			delivered[id]++
		}
	}
	dead := map[string]string{}
	for _, r := range dlq.recs {
		dead[r.Event.ID], _ = r.Event.Extensions["ferryerror"].(string)
	}
	for seq := range count {
		id := "gen-0-" + strconv.Itoa(seq)
		switch seq % 8 {
		case 3, 7:
			want := map[int]string{3: "answered 400 Bad Request", 7: "answered 404 Not Found"}[seq%8]
			if !strings.Contains(dead[id], want) || delivered[id] != 0 {
				t.Errorf("%s: dead-letter %q, delivered %d; want %q", id, dead[id], delivered[id], want)
			}
			if seq%8 == 3 && !strings.Contains(dead[id], "bad order "+id) {
				t.Errorf("%s: the dead letter lacks the answer's body: %q", id, dead[id])
			}
		default:
			if delivered[id] != 1 || dead[id] != "" {
				t.Errorf("%s: delivered %d times, dead-letter %q; want exactly once", id, delivered[id], dead[id])
			}
		}
	}
	if len(waits) != count/8 {
		t.Fatalf("%d retries after 429, want %d", len(waits), count/8)
	}
	for _, w := range waits {
		if w < time.Second {
			t.Errorf("retried %v after a 429 with Retry-After: 1", w)
		}
	}
	mu.Lock()
	pos := string(committed[fmt.Sprintf("task-%d", 0)])
	mu.Unlock()
	if pos != strconv.Itoa(count-1) {
		t.Errorf("committed %q, want %d", pos, count-1)
	}
	t.Logf("%d requests for %d events; waits after 429: %v; %d token fetches", len(reqs), count, waits, p.fetchCount())
}
