package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestKafkaDropPaired measures kafka → drop with one task through two
// ferry binaries in turn, this tree's and another (FERRY_E2E_PAIR_BIN,
// say a build of the commit before a change), each round also beside six
// kafka-go Readers on the same topic, so that a change's effect shows
// through the noise of a shared machine: the two binaries meet the same
// load, in alternating order.
//
//	git archive <base> | tar -x -C /tmp/base && (cd /tmp/base/cmd/ferry && go build -o /tmp/ferry-base .)
//	FERRY_E2E_KAFKA_BENCH=1 FERRY_E2E_PAIR_BIN=/tmp/ferry-base FERRY_E2E_KAFKA_BENCH_ROUNDS=3 \
//	  go test -count=1 -run 'TestKafkaDropPaired$' -v ./cmd/ferry/
//
// FERRY_E2E_KAFKA_BENCH_RECORDS sizes the topic (default 1000000),
// FERRY_E2E_PAIR_TASKS sets tasks.max (default 1), and
// FERRY_E2E_PAIR_CONF and FERRY_E2E_PAIR_OTHER_CONF add connector settings
// (key=value,…) to this tree's connector and the other's, and
// FERRY_E2E_PAIR_ARGS and FERRY_E2E_PAIR_OTHER_ARGS flags to the two
// workers (such as --memory-limit auto:40MiB), to compare settings with
// one binary (FERRY_E2E_PAIR_BIN naming a build of this tree).
func TestKafkaDropPaired(t *testing.T) {
	kafkaBench(t)
	other := os.Getenv("FERRY_E2E_PAIR_BIN")
	if other == "" {
		t.Skip("set FERRY_E2E_PAIR_BIN to the ferry binary to compare with")
	}
	n := envInt(t, "FERRY_E2E_KAFKA_BENCH_RECORDS", 1000000)
	rounds := envInt(t, "FERRY_E2E_KAFKA_BENCH_ROUNDS", 3)
	tasks := envInt(t, "FERRY_E2E_PAIR_TASKS", 1)
	cur := startStandalone(t, ferryBinary(t), strings.Fields(os.Getenv("FERRY_E2E_PAIR_ARGS"))...)
	old := startStandalone(t, other, strings.Fields(os.Getenv("FERRY_E2E_PAIR_OTHER_ARGS"))...)

	topic := newKafkaTopic(t, "ferry-bench-pair", 6)
	f := runConnector(t, cur, "pair-gen", merge(topic.sinkConfig(), map[string]string{
		"source": "generator", "source.count": strconv.Itoa(n), "source.payload.bytes": "1024",
	}), n, topic.total)
	t.Logf("generator → kafka %s (load avg %s)", f, loadavg())
	workers := []struct {
		name string
		w    *proc
		conf map[string]string
	}{{"this", cur, pairConf(t, "FERRY_E2E_PAIR_CONF")}, {"other", old, pairConf(t, "FERRY_E2E_PAIR_OTHER_CONF")}}
	for r := 1; r <= rounds; r++ {
		order := []int{0, 1}
		if r%2 == 0 {
			order = []int{1, 0}
		}
		for _, i := range order {
			w := workers[i]
			la := loadavg()
			f := runConnector(t, w.w, fmt.Sprintf("pair-drop-%s-%d", w.name, r), merge(topic.sourceConfig(), map[string]string{
				"sink": "drop", "tasks.max": strconv.Itoa(tasks)}, w.conf), n, nil)
			t.Logf("PAIR round %d kafka → drop %-5s (%d task(s)) %s (load avg %s before, %s after)", r, w.name, tasks, f, la, loadavg())
		}
		la := loadavg()
		f := rawRead(t, topic)
		t.Logf("PAIR round %d kafka-go Reader ×6            %s (load avg %s before, %s after)", r, f, la, loadavg())
	}
}

// pairConf reads connector settings, key=value,…, from the environment
// variable name.
func pairConf(t *testing.T, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kv := range strings.Split(os.Getenv(name), ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("%s: %q is not key=value", name, kv)
		}
		out[k] = v
	}
	if len(out) > 0 {
		t.Logf("%s: %v", name, out)
	}
	return out
}
