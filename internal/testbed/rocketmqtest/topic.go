package rocketmqtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferryhq/ferry/internal/testbed"
)

// adminMu serialises topic creation: rocketmq-client-go's admins share one
// process-wide client, which the first Close shuts down.
var adminMu sync.Mutex

// Topic creates a topic named after prefix, the process and the
// time, with n read and write queues on the test bed's broker, and waits
// until the name server serves its route: CreateTopic does not report the
// broker's answer, so the route is the proof. It stops the test as
// testbed.RocketMQ does when the broker is not there, and fails it when the route
// does not show n queues within 20 s.
func Topic(tb testing.TB, prefix string, n int) string {
	tb.Helper()
	return topic(tb, prefix, n, "")
}

// FIFOTopic is Topic for a RocketMQ 5 FIFO topic: the topic attribute
// message.type=FIFO, as `mqadmin updateTopic -a +message.type=FIFO` sets
// it (the same UPDATE_AND_CREATE_TOPIC request). It fails the test unless
// the broker then reports the topic's message.type as FIFO.
func FIFOTopic(tb testing.TB, prefix string, n int) string {
	tb.Helper()
	return topic(tb, prefix, n, "FIFO")
}

func topic(tb testing.TB, prefix string, n int, messageType string) string {
	tb.Helper()
	namesrv, broker := testbed.RocketMQ(tb), testbed.RocketMQBroker(tb)
	topic := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano())
	adminMu.Lock()
	defer adminMu.Unlock()
	a, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{namesrv})))
	if err != nil {
		tb.Fatalf("testbed: rocketmq admin: %v", err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if messageType == "" {
		err = a.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(broker),
			admin.WithReadQueueNums(n), admin.WithWriteQueueNums(n))
	} else {
		err = createTyped(ctx, broker, topic, n, messageType)
	}
	if err != nil {
		tb.Fatalf("testbed: create topic %s: %v", topic, err)
	}
	for {
		mqs, err := a.FetchPublishMessageQueues(ctx, topic)
		if err == nil && len(mqs) == n {
			return topic
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("testbed: route of %s never showed %d queues: %d, %v", topic, n, len(mqs), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Request codes for topics, beside those in read.go.
const (
	codeCreateTopic    = 17  // UPDATE_AND_CREATE_TOPIC
	codeGetTopicConfig = 351 // GET_TOPIC_CONFIG (RocketMQ 5)
)

// createTyped creates topic on broker with the topic attribute
// message.type (RocketMQ 5) and checks the broker's stored config says so.
func createTyped(ctx context.Context, broker, topic string, n int, messageType string) error {
	resp, err := call(ctx, broker, codeCreateTopic, map[string]string{
		"topic": topic, "defaultTopic": "TBW102", "readQueueNums": strconv.Itoa(n), "writeQueueNums": strconv.Itoa(n),
		"perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false",
		"attributes": "+message.type=" + messageType,
	})
	if err != nil {
		return err
	}
	if resp.Code != 0 {
		return fmt.Errorf("code %d %s", resp.Code, resp.Remark)
	}
	if resp, err = call(ctx, broker, codeGetTopicConfig, map[string]string{"topic": topic}); err != nil {
		return err
	}
	if resp.Code != 0 {
		return fmt.Errorf("topic config: code %d %s", resp.Code, resp.Remark)
	}
	var cfg struct {
		Attributes map[string]string `json:"attributes"`
	}
	if err := json.Unmarshal(resp.body, &cfg); err != nil {
		return fmt.Errorf("topic config %q: %v", resp.body, err)
	}
	if got := cfg.Attributes["message.type"]; got != messageType {
		return fmt.Errorf("the broker holds message.type %q, want %q (config %s)", got, messageType, resp.body)
	}
	return nil
}
