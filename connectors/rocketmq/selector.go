package rocketmq

import (
	"cmp"
	"slices"
	"sync"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// selector is the producer's queue selector. The sink picks each
// message's queue itself before sending, because a batch must go to one
// queue and the library would pick a batch's queue without the messages'
// sharding keys. The selector therefore returns the queue the sink put in
// Message.Queue, and learns each topic's queues from the producer (which
// passes its current route on every send) so the sink can group the next
// messages by queue. A message with no queue chosen, the first to a topic
// the sink has not seen, gets the queue its sharding key hashes to, as
// later ones will.
type selector struct {
	mu     sync.Mutex
	topics map[string]*route
}

// route is a topic's writable queues in a stable order (broker name,
// queue id), so a key maps to the same queue whatever order the name
// server lists them in.
type route struct {
	given  []*primitive.MessageQueue // as last passed by the producer
	queues []*primitive.MessageQueue
}

func newSelector() *selector { return &selector{topics: map[string]*route{}} }

// Select implements producer.QueueSelector. It may run on several sending
// goroutines at once.
func (s *selector) Select(msg *primitive.Message, mqs []*primitive.MessageQueue, _ string) *primitive.MessageQueue {
	if len(mqs) == 0 {
		return nil
	}
	r := s.learn(msg.Topic, mqs)
	if q := msg.Queue; q != nil {
		for _, c := range r.queues {
			if c.BrokerName == q.BrokerName && c.QueueId == q.QueueId {
				return c
			}
		}
		// The route changed under the chosen queue: keep the choice
		// deterministic in the new one.
		return r.queues[int(uint(q.QueueId)%uint(len(r.queues)))]
	}
	return r.queues[queueIndex(msg.GetShardingKey(), len(r.queues))]
}

func (s *selector) learn(topic string, mqs []*primitive.MessageQueue) *route {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.topics[topic]
	if r != nil && len(r.given) == len(mqs) && &r.given[0] == &mqs[0] {
		return r
	}
	sorted := slices.Clone(mqs)
	slices.SortFunc(sorted, func(a, b *primitive.MessageQueue) int {
		return cmp.Or(cmp.Compare(a.BrokerName, b.BrokerName), cmp.Compare(a.QueueId, b.QueueId))
	})
	r = &route{given: mqs, queues: sorted}
	s.topics[topic] = r
	return r
}

// queues returns the topic's queues as last seen, nil before the first
// send to it.
func (s *selector) queues(topic string) []*primitive.MessageQueue {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.topics[topic]; r != nil {
		return r.queues
	}
	return nil
}

// queueIndex maps a sharding key to one of n queues (FNV-1a, as the
// library's hash selector). An empty key gets queue 0; the sink spreads
// keyless messages itself.
func queueIndex(key string, n int) int {
	if key == "" || n <= 1 {
		return 0
	}
	const offset32, prime32 = 2166136261, 16777619
	h := uint32(offset32)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= prime32
	}
	return int(h % uint32(n))
}
