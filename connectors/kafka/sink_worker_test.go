package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kafka"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/state"
	"github.com/ferryhq/ferry/worker"
	"github.com/ferryhq/ferry/worker/rest"
)

// poisonSource emits records 0..count-1 keyed k<i%4>, record poison with
// data of poisonBytes, then waits for the task to stop.
type poisonSource struct {
	count, poison, poisonBytes int
	done                       bool
}

func (s *poisonSource) Open(context.Context) error { return nil }

func (s *poisonSource) Read(ctx context.Context) ([]api.Record, error) {
	if s.done {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s.done = true
	recs := make([]api.Record, s.count)
	for i := range recs {
		data := fmt.Sprintf(`{"seq":%d}`, i)
		if i == s.poison {
			data = fmt.Sprintf(`{"seq":%d,"pad":%q}`, i, strings.Repeat("p", s.poisonBytes))
		}
		recs[i] = api.Record{Event: event("r"+strconv.Itoa(i), data), Key: []byte("k" + strconv.Itoa(i%4)),
			Partition: "p", Position: api.Position(strconv.Itoa(i))}
	}
	return recs, nil
}

func (s *poisonSource) Close(context.Context) error { return nil }

// runWorker runs a standalone worker with the poison source and the
// kafka sink, and its REST server; it returns the server's base URL.
func runWorker(t *testing.T) string {
	t.Helper()
	reg := worker.Registry{
		Sources: []api.SourcePlugin{{Name: "poison", Spec: api.Spec{
			{Name: "count", Type: api.TypeInt, Default: "20"},
			{Name: "poison", Type: api.TypeInt, Default: "7"},
			{Name: "poison.bytes", Type: api.TypeInt, Default: "10000"},
		}, New: func(tc api.TaskConfig) (api.Source, error) {
			c := tc.Config
			return &poisonSource{count: c.Int("count"), poison: c.Int("poison"), poisonBytes: c.Int("poison.bytes")}, nil
		}}},
		Sinks: []api.SinkPlugin{kafka.Sink},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := worker.New(worker.Config{WorkerID: "kafka-sink-test", Store: state.NewMemory(), Registry: reg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rest.New(rest.Config{Addr: "127.0.0.1:0", Controller: w, Version: "test", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(ctx) })
	wg.Go(func() { _ = srv.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-srv.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready")
	}
	return "http://" + srv.Addr()
}

func call(t *testing.T, method, url string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, url, strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func create(t *testing.T, base, name string, cfg map[string]string) (int, string) {
	t.Helper()
	return call(t, "POST", base+"/connectors", map[string]any{"name": name, "config": cfg})
}

func taskState(t *testing.T, base, name string) (string, string) {
	t.Helper()
	_, body := call(t, "GET", base+"/connectors/"+name+"/status", nil)
	var st worker.ConnectorStateInfo
	_ = json.Unmarshal([]byte(body), &st)
	if len(st.Tasks) == 0 {
		return "", ""
	}
	return st.Tasks[0].State, st.Tasks[0].Trace
}

func eventually(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSinkPoisonToDeadLetterKafka runs a connector through the worker
// whose sink is kafka and whose dead-letter sink is kafka too: a record
// bigger than the topic's max.message.bytes is refused by the broker and
// lands in the dead-letter topic with the broker's error; the stream goes
// on, in order per key.
func TestSinkPoisonToDeadLetterKafka(t *testing.T) {
	t.Parallel()
	brokers := testbed.Kafka(t)
	main := newTopic(t, brokers, "ferry-sink-main", 2, map[string]string{"max.message.bytes": "4096"})
	dlq := newTopic(t, brokers, "ferry-sink-dlq", 1, nil)
	base := runWorker(t)
	code, body := create(t, base, "poison", map[string]string{
		"source": "poison", "sink": "kafka", "sink.brokers": brokerList(brokers), "sink.topic": main, "sink.body": "binary",
		"errors.tolerance": "all", "errors.deadletterqueue.sink": "kafka",
		"errors.deadletterqueue.sink.brokers": brokerList(brokers), "errors.deadletterqueue.sink.topic": dlq,
	})
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var got, dead []record
	eventually(t, "19 records in the topic and 1 in the dead-letter topic", 60*time.Second, func() bool {
		got, dead = readTopic(t, brokers, main), readTopic(t, brokers, dlq)
		return len(got) >= 19 && len(dead) >= 1
	})
	if len(got) != 19 || len(dead) != 1 {
		t.Fatalf("%d records and %d dead letters, want 19 and 1", len(got), len(dead))
	}
	last := map[string]int{}
	for _, m := range got {
		id := m.headers["ce_id"]
		seq, _ := strconv.Atoi(strings.TrimPrefix(id, "r"))
		if id == "r7" {
			t.Errorf("the poison record reached the topic")
		}
		if l, ok := last[string(m.key)]; ok && l >= seq {
			t.Errorf("key %s: %s after r%d", m.key, id, l)
		}
		last[string(m.key)] = seq
	}
	var ev api.Event
	if err := json.Unmarshal(dead[0].value, &ev); err != nil {
		t.Fatalf("dead letter is not a structured CloudEvent: %v", err)
	}
	cause, _ := ev.Extensions["ferryerror"].(string)
	if ev.ID != "r7" || !strings.Contains(cause, "Message Size Too Large") || string(dead[0].key) != "k3" {
		t.Errorf("dead letter id %q key %q ferryerror %q; want r7, k3 and the broker's error", ev.ID, dead[0].key, cause)
	}
	if state, trace := taskState(t, base, "poison"); state != "RUNNING" {
		t.Errorf("task %s %s, want RUNNING", state, trace)
	}
}

// TestSinkBadInput: an unknown broker fails the task after the retry
// budget, and the worker shows it RESTARTING with a trace that names the
// broker and the cause (the worker restarts tasks that fail with an
// error that is not fatal); conflicting options are a 400 naming the
// field.
func TestSinkBadInput(t *testing.T) {
	t.Parallel()
	base := runWorker(t)
	code, body := create(t, base, "nowhere", map[string]string{
		"source": "poison", "sink": "kafka", "sink.brokers": "no-such-broker.invalid:9092", "sink.topic": "t",
		"sink.request.timeout": "2s", "errors.retry.timeout": "3s",
	})
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var state, trace string
	eventually(t, "the task to fail", 60*time.Second, func() bool {
		state, trace = taskState(t, base, "nowhere")
		return state == "RESTARTING" || state == "FAILED"
	})
	if !strings.Contains(trace, "open sink") || !strings.Contains(trace, "no-such-broker.invalid:9092") || !strings.Contains(trace, "no such host") {
		t.Errorf("trace %q does not say the sink could not reach the broker", trace)
	}
	t.Logf("%s: %s", state, trace)

	for _, tc := range []struct {
		cfg   map[string]string
		field string
	}{
		{map[string]string{"sink.partitioner": "manual"}, "sink.partition"},
		{map[string]string{"sink.topic.form": "JSONPATH", "sink.topic.value": "$.data.t"}, "sink.topic.form"},
		{map[string]string{"sink.headers.ce_id": "x"}, "sink.headers.ce_id"},
		{map[string]string{"sink.linger.ms": "5"}, "sink.linger.ms"},
		{map[string]string{"sink.batch.bytes": "-1"}, "sink.batch.bytes"},
		{map[string]string{"errors.deadletterqueue.sink": "kafka", "errors.deadletterqueue.sink.brokers": "127.0.0.1:9092",
			"errors.deadletterqueue.sink.topic": "dlq", "errors.deadletterqueue.sink.acks": "2"}, "errors.deadletterqueue.sink.acks"},
	} {
		cfg := map[string]string{"source": "poison", "sink": "kafka", "sink.brokers": "127.0.0.1:9092", "sink.topic": "t"}
		for k, v := range tc.cfg {
			cfg[k] = v
		}
		code, body := create(t, base, "conflict", cfg)
		if code != 400 || !strings.Contains(body, `"field":"`+tc.field+`"`) {
			t.Errorf("%v: %d %s; want 400 naming %s", tc.cfg, code, body, tc.field)
		}
	}
}
