package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/internal/rmqwire"
)

// queue is one owned message queue.
type queue struct {
	qid
	name string // queueName
	addr string // the broker group's master
	next int64  // offset of the next message to read; -1 until resolved
	// idPrefix and topicValue are the per-message strings made once:
	// the plain event id's "<name>/" and the topic as an any.
	idPrefix   string
	topicValue any
	brokerVal  any
	queueVal   any
	// inflight is the opaque of the pull in flight (0: none), on link
	// addr, sent at sent.
	inflight int32
	sent     time.Time
	// What the group's offset may say (groupOffset): handed is the
	// position of the last record made from the queue (-1: none since
	// Open), done the latest position the engine committed (or the
	// stored one; -1: none), published the offset last written to the
	// group (-1: not known).
	handed, done, published int64
}

// groupOffset is the offset the group may show for q: the committed
// position, or, once every record made from q is committed, the read
// position, so that messages a filter dropped after the last record count
// as consumed (no record carries their position to the offset store).
// -1 while q has neither.
func (q *queue) groupOffset() int64 {
	if q.handed <= q.done && q.next > q.done {
		return q.next
	}
	return q.done
}

// ownerStream is the stream kit.Owner splits: the topic on one broker
// group, so that queue ids, which repeat on every group, spread each
// group's queues over the tasks.
func ownerStream(topic, broker string) string { return topic + "/" + broker }

// refreshMetadata reads the topic's route, keeps the queues this task
// owns (kit.Owner), positions the new ones and drops those gone.
func (s *source) refreshMetadata(ctx context.Context) error {
	s.nextMeta = time.Now().Add(s.refresh)
	route, err := rmqwire.TopicRoute(ctx, s.names, s.creds, s.topic, s.reqTimeout)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, rmqwire.ErrTopicNotExist) {
			return api.Fatal(fmt.Errorf("rocketmq source: %w: %q: create it or correct source.topic (%v)", errTopicGone, s.topic, err))
		}
		if errors.Is(err, rmqwire.ErrFrame) {
			return api.Fatal(fmt.Errorf("rocketmq source: %s is not a RocketMQ name server: %w", strings.Join(s.names, ","), err))
		}
		return api.Retryable(fmt.Errorf("rocketmq source: %s: %w", strings.Join(s.names, ","), err))
	}
	masters := map[string]string{}
	for _, b := range route.BrokerDatas {
		masters[b.BrokerName] = b.Master()
	}
	want := map[qid]string{}
	for _, qd := range route.QueueDatas {
		addr := masters[qd.BrokerName]
		if !qd.Readable() || addr == "" {
			continue
		}
		stream := ownerStream(s.topic, qd.BrokerName)
		for id := range min(qd.ReadQueueNums, 1<<16) {
			if kit.Owns(s.tc.Task, s.tc.Tasks, stream, id) {
				want[qid{qd.BrokerName, id}] = addr
			}
		}
	}
	var fresh []*queue
	for k, addr := range want {
		if q := s.queues[k]; q != nil {
			if q.addr != addr {
				s.forget(q) // a pull in flight on the old master is abandoned
				q.addr = addr
			}
			continue
		}
		name := queueName(s.topic, k.broker, k.id)
		q := &queue{qid: k, name: name, addr: addr, next: -1, idPrefix: name + "/",
			topicValue: s.topic, brokerVal: k.broker, queueVal: int64(k.id), handed: -1, done: -1, published: -1}
		if pos, ok := s.tc.Committed[name]; ok {
			q.next, _ = parseOffset(pos) // checked in newSource
			q.done = q.next
		}
		fresh = append(fresh, q)
	}
	if err := s.position(ctx, fresh); err != nil {
		return err
	}
	for _, q := range fresh {
		s.queues[q.qid] = q
	}
	if s.opened && len(fresh) > 0 {
		s.log.Info("rocketmq source: reading new queues", "queues", sortedQueueNames(fresh))
	}
	for k, q := range s.queues {
		if _, ok := want[k]; !ok {
			s.log.Info("rocketmq source: queue gone from the route; no longer read", "queue", q.name)
			s.forget(q)
			delete(s.queues, k)
			s.DropLag(q.name)
		}
	}
	s.order = slices.SortedFunc(maps.Values(s.queues), func(a, b *queue) int { return strings.Compare(a.name, b.name) })
	return nil
}

// position sets next for the queues without a stored position: the
// group's broker-side offset when it has one, else the start mode (at
// Open; a queue that appears later starts at its first message, since
// everything in it was written after the connector started). A position
// found by the start mode is written to the group's offsets at once, so a
// restart before any record is committed resumes there rather than
// resolving last or a timestamp again, which would skip what arrived in
// between.
func (s *source) position(ctx context.Context, qs []*queue) error {
	mode := s.start
	if s.opened {
		mode = startMode{Kind: "first"}
	}
	byAddr := map[string][]*queue{}
	for _, q := range qs {
		if q.next < 0 {
			byAddr[q.addr] = append(byAddr[q.addr], q)
		}
	}
	for addr, todo := range byAddr {
		if err := s.positionOn(ctx, addr, todo, mode); err != nil {
			return err
		}
	}
	return nil
}

func (s *source) positionOn(ctx context.Context, addr string, qs []*queue, mode startMode) error {
	c, err := rmqwire.Dial(ctx, addr, s.creds)
	if err != nil {
		return s.brokerErr(ctx, addr, err)
	}
	defer c.Close()
	call := func(code int, ext map[string]string) (*rmqwire.Command, error) {
		resp, err := c.Call(ctx, code, ext, nil, s.reqTimeout)
		if err != nil {
			return nil, s.brokerErr(ctx, addr, err)
		}
		return resp, nil
	}
	for _, q := range qs {
		// setZeroIfNotFound=false: without it a group with no offset gets
		// 0 whenever the queue's first message is still in memory.
		ext := map[string]string{"consumerGroup": s.group, "topic": s.topic, "queueId": strconv.Itoa(q.id), "setZeroIfNotFound": "false"}
		resp, err := call(rmqwire.CodeQueryConsumerOffset, ext)
		if err != nil {
			return err
		}
		if off, ok := resp.Int("offset"); resp.Code == rmqwire.RespSuccess && ok && off >= 0 {
			q.next, q.published = off, off
			s.log.Info("rocketmq source: queue starts at the group's offset", "queue", q.name, "group", s.group, "offset", off)
			continue
		}
		var code int
		ext = map[string]string{"topic": s.topic, "queueId": strconv.Itoa(q.id)}
		switch mode.Kind {
		case "first":
			code = rmqwire.CodeGetMinOffset
		case "last":
			code = rmqwire.CodeGetMaxOffset
		default:
			code = rmqwire.CodeSearchOffsetByTime
			ext["timestamp"] = strconv.FormatInt(mode.Ms, 10)
		}
		if resp, err = call(code, ext); err != nil {
			return err
		}
		off, ok := resp.Int("offset")
		if resp.Code != rmqwire.RespSuccess || !ok || off < 0 {
			return s.answerErr(fmt.Sprintf("start offset of %s", q.name), resp)
		}
		if mode.Kind == "timestamp" {
			if off, err = s.firstAtOrAfter(ctx, c, q, off, mode.Ms); err != nil {
				return err
			}
		}
		q.next = off
		// A pull creates the group on a broker that creates groups on
		// first use (autoCreateSubscriptionGroup, the default); offsets
		// of a group that does not exist are refused.
		if resp, err = call(rmqwire.CodePullMessage, s.pullExt(q, off, 0)); err != nil {
			return err
		}
		if resp.Code == rmqwire.RespSubscriptionGroupNotExist {
			return s.answerErr(fmt.Sprintf("group %s", s.group), resp)
		}
		resp, err = call(rmqwire.CodeUpdateConsumerOffset, map[string]string{
			"consumerGroup": s.group, "topic": s.topic, "queueId": strconv.Itoa(q.id), "commitOffset": strconv.FormatInt(off, 10)})
		if err != nil {
			return err
		}
		if resp.Code != rmqwire.RespSuccess {
			return s.answerErr(fmt.Sprintf("storing the start offset of %s in group %s", q.name, s.group), resp)
		}
		q.published = off
		s.log.Info("rocketmq source: queue starts by start mode", "queue", q.name, "start", mode.Kind, "offset", off)
	}
	return nil
}

// firstAtOrAfter moves the offset the broker's time search returned to
// the first message stored at or after ms: the search answers the
// message nearest to the time, which may be just before it.
func (s *source) firstAtOrAfter(ctx context.Context, c *rmqwire.Conn, q *queue, off, ms int64) (int64, error) {
	for range 4 {
		resp, err := c.Call(ctx, rmqwire.CodePullMessage, s.pullExt(q, off, 0), nil, s.reqTimeout)
		if err != nil {
			return 0, s.brokerErr(ctx, q.addr, err)
		}
		if resp.Code != rmqwire.RespSuccess {
			return off, nil // nothing there (yet): start at off
		}
		found := false
		err = decodeStored(resp.Body, func(m *stored) error {
			if !found && m.storeMs < ms {
				off = m.queueOffset + 1
				return nil
			}
			found = true
			return nil
		})
		if err != nil || found {
			return off, nil
		}
	}
	return off, nil
}

// brokerErr classifies a failed request: ctx's end, or a retryable
// failure naming the broker.
func (s *source) brokerErr(ctx context.Context, addr string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return api.Retryable(fmt.Errorf("rocketmq source: broker %s: %w", addr, err))
}

// answerErr is an unexpected broker answer: permission refusals are
// fatal, anything else is retried.
func (s *source) answerErr(what string, resp *rmqwire.Command) error {
	err := fmt.Errorf("rocketmq source: %s: %s", what, resp.Err())
	switch resp.Code {
	case rmqwire.RespNoPermission:
		return api.Fatal(err)
	case rmqwire.RespSubscriptionGroupNotExist:
		return api.Fatal(fmt.Errorf("%w (create the group, e.g. mqadmin updateSubGroup, or let the broker create groups: autoCreateSubscriptionGroup=true)", err))
	}
	return api.Retryable(err)
}

// publish writes to the group's offsets on each queue's broker what
// moved since the last publish: the positions the engine committed, and
// the read position of a queue whose records are all committed
// (groupOffset), so a queue whose messages the filter drops shows no lag
// in RocketMQ's tools and, when Ferry has no position for it, a restart
// starts after them. A failure is logged and the offsets are written again
// next time: the group's offsets are a view for RocketMQ's tools, Ferry's
// offset store is what the task resumes from.
func (s *source) publish(ctx context.Context) {
	for name, pos := range s.TakeCommitted() {
		topic, k, ok := parseQueueName(name)
		q := s.queues[k]
		if !ok || topic != s.topic || q == nil {
			continue
		}
		if off, err := parseOffset(pos); err == nil && off > q.done {
			q.done = off
		}
	}
	byAddr := map[string][]*queue{}
	for _, q := range s.order {
		if q.groupOffset() > q.published {
			byAddr[q.addr] = append(byAddr[q.addr], q)
		}
	}
	var errs []error
	for addr, qs := range byAddr {
		if err := s.publishTo(ctx, addr, qs); err != nil {
			errs = append(errs, err)
		}
	}
	if errs != nil {
		s.log.Warn("rocketmq source: cannot write committed positions to the group's offsets; will retry",
			"group", s.group, "err", errors.Join(errs...))
	}
}

func (s *source) publishTo(ctx context.Context, addr string, qs []*queue) error {
	c, err := rmqwire.Dial(ctx, addr, s.creds)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, q := range qs {
		off := q.groupOffset()
		resp, err := c.Call(ctx, rmqwire.CodeUpdateConsumerOffset, map[string]string{
			"consumerGroup": s.group, "topic": s.topic, "queueId": strconv.Itoa(q.id), "commitOffset": strconv.FormatInt(off, 10),
		}, nil, s.reqTimeout)
		if err != nil {
			return err
		}
		if resp.Code != rmqwire.RespSuccess {
			return fmt.Errorf("%s: %s", q.name, resp.Err())
		}
		q.published = off
	}
	return nil
}
