package rmqwire

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Topic is a topic to create on a broker: its name, its number of read
// and write queues, and RocketMQ 5 topic attributes (message.type=FIFO,
// say; none for a plain topic).
type Topic struct {
	Name       string
	Queues     int
	Attributes map[string]string
}

// ext is the UPDATE_AND_CREATE_TOPIC request: readable and writable,
// tag filtering, and the attributes as `mqadmin updateTopic -a` sends
// them ("+k=v" joined with commas, in key order).
func (t Topic) ext() map[string]string {
	ext := map[string]string{
		"topic":           t.Name,
		"defaultTopic":    "TBW102",
		"readQueueNums":   strconv.Itoa(t.Queues),
		"writeQueueNums":  strconv.Itoa(t.Queues),
		"perm":            "6", // read + write
		"topicFilterType": "SINGLE_TAG",
		"topicSysFlag":    "0",
		"order":           "false",
	}
	if len(t.Attributes) > 0 {
		var attrs []string
		for _, k := range slices.Sorted(maps.Keys(t.Attributes)) {
			attrs = append(attrs, "+"+k+"="+t.Attributes[k])
		}
		ext["attributes"] = strings.Join(attrs, ",")
	}
	return ext
}

// CreateTopic asks the broker at addr to create t, or to update it when
// it exists, and checks the broker's answer. The name server serves the
// topic's route only after the broker's next registration, so callers
// that need the route wait for it with TopicRoute.
func CreateTopic(ctx context.Context, addr string, creds Credentials, t Topic, timeout time.Duration) error {
	resp, err := OneCall(ctx, addr, creds, CodeCreateTopic, t.ext(), timeout)
	if err != nil {
		return err
	}
	if resp.Code != RespSuccess {
		return fmt.Errorf("create topic %s on %s: %w", t.Name, addr, refused(resp))
	}
	return nil
}

// TopicAttributes asks the broker at addr for the attributes it holds
// for topic (GET_TOPIC_CONFIG, RocketMQ 5).
func TopicAttributes(ctx context.Context, addr string, creds Credentials, topic string, timeout time.Duration) (map[string]string, error) {
	resp, err := OneCall(ctx, addr, creds, CodeGetTopicConfig, map[string]string{"topic": topic}, timeout)
	if err != nil {
		return nil, err
	}
	if resp.Code != RespSuccess {
		return nil, fmt.Errorf("config of topic %s on %s: %w", topic, addr, refused(resp))
	}
	var cfg struct {
		Attributes map[string]string `json:"attributes"`
	}
	if err := json.Unmarshal(resp.Body, &cfg); err != nil {
		return nil, fmt.Errorf("config of topic %s on %s: %w: %q: %v", topic, addr, ErrFrame, resp.Body, err)
	}
	return cfg.Attributes, nil
}
