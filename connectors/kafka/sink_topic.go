package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	meta "github.com/segmentio/kafka-go/protocol/metadata"
)

// topicTTL is how long the sink trusts a topic's partition count; the
// transport refreshes its own metadata on the same period.
const topicTTL = 30 * time.Second

// maxTopicCache bounds the topics remembered: a topic per event must not
// grow the cache without bound.
const maxTopicCache = 10000

// topicInfo is what the sink knows of one topic.
type topicInfo struct {
	partitions int
	missing    error // errTopicMissing (wrapped) when the brokers do not have it
	fetched    time.Time
}

// topics caches topic metadata for Write's goroutine.
type topics struct {
	tr         *kafkago.Transport
	addr       net.Addr
	autoCreate bool
	timeout    time.Duration
	byName     map[string]*topicInfo
	now        func() time.Time

	// at is the time lookup measures a cached entry's age against, read
	// once per Write (tick) rather than once per record.
	at time.Time
}

// tick reads the clock for the lookups that follow.
func (t *topics) tick() { t.at = t.now() }

// lookup returns the topic's partition count. errTopicMissing (wrapped)
// means the brokers do not have the topic and did not create it; other
// errors are the request's (transient or fatal by triage). An entry is
// trusted for topicTTL from the last tick.
func (t *topics) lookup(ctx context.Context, name string) (int, error) {
	if ti, ok := t.byName[name]; ok && t.at.Sub(ti.fetched) < topicTTL {
		return ti.partitions, ti.missing
	}
	n, err := t.fetch(ctx, name)
	if err != nil && !errors.Is(err, errTopicMissing) {
		return 0, err
	}
	if len(t.byName) >= maxTopicCache {
		clear(t.byName)
	}
	t.byName[name] = &topicInfo{partitions: n, missing: err, fetched: t.now()}
	return n, err
}

func (t *topics) fetch(ctx context.Context, name string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	// The transport answers from its cache, except that a topic it does
	// not know is asked of the brokers when creation is allowed.
	res, err := t.tr.RoundTrip(ctx, t.addr, &meta.Request{TopicNames: []string{name}, AllowAutoTopicCreation: t.autoCreate})
	if err != nil {
		return 0, fmt.Errorf("metadata of topic %s: %w", name, err)
	}
	mr, ok := res.(*meta.Response)
	if !ok {
		return 0, fmt.Errorf("metadata of topic %s: unexpected response %T", name, res)
	}
	for _, tp := range mr.Topics {
		if tp.Name != name {
			continue
		}
		switch code := kafkago.Error(tp.ErrorCode); {
		case code == kafkago.UnknownTopicOrPartition:
			how := "the brokers do not create topics automatically (auto.create.topics.enable=false)"
			if !t.autoCreate {
				how = "topic.auto.create=false"
			}
			return 0, fmt.Errorf("%w: %s is not on the brokers and %s; create it", errTopicMissing, name, how)
		case code != 0:
			return 0, fmt.Errorf("metadata of topic %s: %w", name, code)
		case len(tp.Partitions) == 0:
			// Just created; its partitions are not known yet.
			return 0, fmt.Errorf("metadata of topic %s: %w", name, kafkago.LeaderNotAvailable)
		}
		return len(tp.Partitions), nil
	}
	return 0, fmt.Errorf("%w: %s is not in the brokers' metadata; create it", errTopicMissing, name)
}
