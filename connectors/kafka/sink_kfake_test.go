package kafka_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferryhq/ferry/api"
)

// fakeKafka starts an in-process Kafka (franz-go's kfake) with one topic.
func fakeKafka(t *testing.T, topic string, partitions int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestSinkPartialFailureKeepsOrder fails one produce request of one
// partition while the others succeed (what a leader move does), then lets
// the engine's retry write the same batch again: every record is stored
// exactly once, and every key's records in order. Without the per-
// partition stop, the failed partition's later requests would be stored
// before the retried one; without kit.Resume, the other partitions'
// records would be stored twice.
func TestSinkPartialFailureKeepsOrder(t *testing.T) {
	t.Parallel()
	const topic, partitions, keys, n = "orders", 3, 30, 600
	c := fakeKafka(t, topic, partitions)
	var mu sync.Mutex
	seen := map[int32]int{} // produce requests per partition
	failed := false
	c.ControlKey(kmsg.Produce.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := r.(*kmsg.ProduceRequest)
		mu.Lock()
		defer mu.Unlock()
		p := req.Topics[0].Partitions[0].Partition
		seen[p]++
		if p != 1 || seen[p] != 3 || failed {
			return nil, nil, false
		}
		failed = true
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceResponseTopicPartition()
		rp.Partition = p
		rp.ErrorCode = 6 // NOT_LEADER_OR_FOLLOWER
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})
	s := open(t, map[string]string{"brokers": strings.Join(c.ListenAddrs(), ","), "topic": topic, "body": "data", "batch.size": "10"})
	recs := make([]api.Record, n)
	for i := range recs {
		k := "k" + strconv.Itoa(i%keys)
		recs[i] = api.Record{Event: event("e"+strconv.Itoa(i), fmt.Sprintf(`{"k":%q,"seq":%d}`, k, i)), Key: []byte(k)}
	}
	err := write(t, s, recs)
	var re *api.RecordErrors
	if err == nil || !api.IsRetryable(err) || errors.As(err, &re) {
		t.Fatalf("first Write = %v, want a retryable error for the whole batch", err)
	}
	t.Logf("first Write: %v", err)
	if err := write(t, s, recs); err != nil {
		t.Fatalf("retried Write: %v", err)
	}
	msgs := readTopic(t, c.ListenAddrs(), topic)
	if len(msgs) != n {
		t.Errorf("%d records stored, want %d (each once)", len(msgs), n)
	}
	last := map[string]int{}
	count := map[int]int{}
	for _, m := range msgs {
		var d struct {
			K   string
			Seq int
		}
		if err := json.Unmarshal(m.value, &d); err != nil {
			t.Fatal(err)
		}
		count[d.Seq]++
		if l, ok := last[d.K]; ok && l >= d.Seq {
			t.Fatalf("key %s: seq %d stored after %d", d.K, d.Seq, l)
		}
		last[d.K] = d.Seq
	}
	for i := range n {
		if count[i] != 1 {
			t.Errorf("record %d stored %d times", i, count[i])
		}
	}
}

// TestSinkSASL: kafka-go authenticates to kfake with SASL/PLAIN; a wrong
// password fails Open with a fatal error that says what to check.
//
// kfake closes the connection on a wrong password, where a real broker
// first answers SASL_AUTHENTICATION_FAILED (58, "Authentication failed:
// Invalid username or password"); kafka-go then sees only EOF. So the
// wrong password is refused here with the real broker's answer, through
// kfake's request control.
func TestSinkSASL(t *testing.T) {
	t.Parallel()
	c := fakeKafka(t, "secured", 1, kfake.EnableSASL(), kfake.Superuser("PLAIN", "ferry", "right"))
	cfg := map[string]string{"brokers": strings.Join(c.ListenAddrs(), ","), "topic": "secured",
		"sasl.mechanism": "PLAIN", "sasl.username": "ferry"}

	s := open(t, with(cfg, "sasl.password", "right"))
	if err := write(t, s, []api.Record{{Event: event("a", `{}`)}}); err != nil {
		t.Fatalf("write with the right password: %v", err)
	}

	c.ControlKey(kmsg.SASLAuthenticate.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := r.(*kmsg.SASLAuthenticateRequest)
		if !strings.HasSuffix(string(req.SASLAuthBytes), "\x00wrong") {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = 58
		msg := "Authentication failed: Invalid username or password"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
	bad, err := build(with(cfg, "sasl.password", "wrong"))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close(t.Context())
	err = bad.Open(t.Context())
	if err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), "sasl.password") {
		t.Fatalf("Open with a wrong password = %v, want a fatal error naming the SASL settings", err)
	}
	t.Logf("Open: %v", err)
}

// TestSinkMissingTopicNoAutoCreate: brokers that do not create topics
// (kfake's default) fail Open for a missing constant topic even with
// topic.auto.create=true, and reject a record whose topic (from the
// event) is missing.
func TestSinkMissingTopicNoAutoCreate(t *testing.T) {
	t.Parallel()
	c := fakeKafka(t, "present", 1)
	brokers := strings.Join(c.ListenAddrs(), ",")
	s, err := build(map[string]string{"brokers": brokers, "topic": "absent"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	if err := s.Open(t.Context()); err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), "auto.create.topics.enable=false") {
		t.Fatalf("Open = %v, want a fatal error saying the brokers do not create topics", err)
	}
	r := open(t, map[string]string{"brokers": brokers, "topic.form": "JSONPATH", "topic.value": "$.data.t"})
	err = write(t, r, []api.Record{{Event: event("1", `{"t":"absent"}`)}, {Event: event("2", `{"t":"present"}`)}})
	var re *api.RecordErrors
	if !errors.As(err, &re) || len(*re) != 1 || (*re)[0].Index != 0 || !api.IsFatal((*re)[0].Err) {
		t.Fatalf("Write = %v, want record 0 rejected", err)
	}
	if got := readTopic(t, c.ListenAddrs(), "present"); len(got) != 1 {
		t.Errorf("present holds %d records, want 1", len(got))
	}
}
