package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/rmqwire"
)

// link is one connection to a broker carrying the pulls of every owned
// queue on it at once (one in flight per queue), each answered by the
// broker when it has messages or its hold ends. A goroutine reads the
// answers into source.resp; Read sends the pulls and handles the answers,
// so the queues' state stays on the reader's goroutine.
type link struct {
	conn     *rmqwire.Conn
	inflight map[int32]*queue
	stop     chan struct{} // closed by drop: the reading goroutine gives up sending
	done     chan struct{} // closed when the reading goroutine has ended
}

type response struct {
	l   *link
	cmd *rmqwire.Command
	err error
}

// readAnswers runs on its own goroutine per link until the connection is
// closed; drop waits for it.
func (s *source) readAnswers(l *link) {
	defer close(l.done)
	for {
		cmd, err := l.conn.Receive()
		select {
		case s.resp <- response{l, cmd, err}:
		case <-l.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// linkTo returns the link to addr, dialling it if needed.
func (s *source) linkTo(ctx context.Context, addr string) (*link, error) {
	if l := s.links[addr]; l != nil {
		return l, nil
	}
	c, err := rmqwire.Dial(ctx, addr, s.creds)
	if err != nil {
		return nil, s.brokerErr(ctx, addr, err)
	}
	l := &link{conn: c, inflight: map[int32]*queue{}, stop: make(chan struct{}), done: make(chan struct{})}
	s.links[addr] = l
	go s.readAnswers(l)
	return l, nil
}

// drop closes a link, waits for its goroutine and frees its queues'
// pulls, which are sent again on a new link.
func (s *source) drop(addr string) {
	l := s.links[addr]
	if l == nil {
		return
	}
	delete(s.links, addr)
	_ = l.conn.Close()
	close(l.stop)
	<-l.done
	for _, q := range l.inflight {
		q.inflight = 0
	}
}

// forget abandons q's pull in flight: its answer is ignored.
func (s *source) forget(q *queue) {
	if q.inflight == 0 {
		return
	}
	if l := s.links[q.addr]; l != nil {
		delete(l.inflight, q.inflight)
	}
	q.inflight = 0
}

// pullExt is the pull request for the configured most messages of q from
// off, with the subscription (the filter) in it, held at the broker up to
// hold.
func (s *source) pullExt(q *queue, off int64, hold time.Duration) map[string]string {
	p := rmqwire.Pull{Group: s.group, Topic: s.topic, Queue: q.id, Offset: off, Max: s.pullMax, Hold: hold, SubVersion: s.subVersion}
	switch {
	case s.sql != "":
		p.Subscription, p.ExpressionType = s.sql, "SQL92"
	case s.tags != nil:
		p.Subscription, p.ExpressionType = s.tagExpr(), "TAG"
	}
	return p.Ext()
}

// tagExpr is the tag filter as the broker reads it.
func (s *source) tagExpr() string {
	return s.tc.Config.String("filter.tag")
}

// sendPulls sends a pull for every owned queue that has none in flight.
// A broker that cannot be reached is reported once no pull is in flight
// anywhere; until then the others' answers are read.
func (s *source) sendPulls(ctx context.Context) error {
	var errs []error
	var down map[string]bool // brokers not reached in this call: not dialled again for their other queues
	now := time.Now()
	for _, q := range s.order {
		if q.inflight != 0 || down[q.addr] {
			continue
		}
		l, err := s.linkTo(ctx, q.addr)
		if err != nil {
			if down == nil {
				down = map[string]bool{}
			}
			down[q.addr] = true
			errs = append(errs, err)
			continue
		}
		op, err := l.conn.Send(rmqwire.CodePullMessage, s.pullExt(q, q.next, s.hold), nil, now.Add(s.reqTimeout))
		if err != nil {
			s.drop(q.addr)
			errs = append(errs, s.brokerErr(ctx, q.addr, err))
			continue
		}
		q.inflight, q.sent = op, now
		l.inflight[op] = q
	}
	if errs == nil {
		return nil
	}
	for _, l := range s.links {
		if len(l.inflight) > 0 {
			s.log.Warn("rocketmq source: some queues cannot be pulled; retrying them", "err", errors.Join(errs...))
			return nil
		}
	}
	return errors.Join(errs...)
}

// wait blocks until answers arrive, a timer is due or ctx ends, and
// handles the answers that are there.
func (s *source) wait(ctx context.Context) error {
	until := earlier(s.nextMeta, s.nextPublish)
	for _, q := range s.order {
		if q.inflight != 0 {
			until = earlier(until, q.sent.Add(s.hold+rmqwire.HoldSlack))
		}
	}
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return s.expire()
	case r := <-s.resp:
		if err := s.handle(ctx, r); err != nil {
			return err
		}
	}
	// Take what else has arrived, without waiting.
	for len(s.pending) < s.batch {
		select {
		case r := <-s.resp:
			if err := s.handle(ctx, r); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// expire drops the links whose pulls the broker has held past their hold
// and its slack: the connection is taken for dead.
func (s *source) expire() error {
	now := time.Now()
	var lost []string
	for _, q := range s.order {
		if q.inflight != 0 && now.After(q.sent.Add(s.hold+rmqwire.HoldSlack)) {
			lost = append(lost, q.addr)
		}
	}
	for _, addr := range lost {
		s.drop(addr)
	}
	if lost != nil && len(s.pending) == 0 {
		return api.Retryable(fmt.Errorf("rocketmq source: broker %s did not answer pulls within %s", lost[0], s.hold+rmqwire.HoldSlack))
	}
	return nil
}

// handle takes one answer off a link.
func (s *source) handle(ctx context.Context, r response) error {
	addr := r.l.conn.Addr()
	if s.links[addr] != r.l {
		return nil // from a link dropped since
	}
	if r.err != nil {
		s.drop(addr)
		s.nextMeta = earlier(s.nextMeta, time.Now().Add(time.Second)) // the master may have moved
		if len(s.pending) > 0 {
			s.log.Warn("rocketmq source: connection to a broker lost; pulling again", "broker", addr, "err", r.err)
			return nil
		}
		return s.brokerErr(ctx, addr, r.err)
	}
	q := r.l.inflight[r.cmd.Opaque]
	if q == nil {
		return nil // abandoned
	}
	delete(r.l.inflight, r.cmd.Opaque)
	q.inflight = 0
	return s.pulled(q, r.cmd)
}

// pulled applies one pull answer to q: records for its messages, the next
// offset, the lag.
func (s *source) pulled(q *queue, resp *rmqwire.Command) error {
	next, hasNext := resp.Int("nextBeginOffset")
	maxOff, hasMax := resp.Int("maxOffset")
	switch resp.Code {
	case rmqwire.RespSuccess:
		made := len(s.pending)
		if err := s.records(q, resp.Body); err != nil {
			return api.Fatal(fmt.Errorf("rocketmq source: %s at offset %d: %w", q.name, q.next, err))
		}
		if hasNext && len(s.pending) > made && next > q.handed {
			// The broker scanned up to next: the messages after the last
			// record failed the filter, so the record's position (where
			// a restart resumes) may skip them.
			last := &s.pending[len(s.pending)-1]
			last.Position = strconv.AppendInt(last.Position[:0], next, 10)
			q.handed = next
		}
	case rmqwire.RespPullNotFound, rmqwire.RespPullRetryImmediately:
	case rmqwire.RespPullOffsetMoved:
		minOff, _ := resp.Int("minOffset")
		if hasMax && q.next > maxOff {
			return api.Fatal(fmt.Errorf("rocketmq source: %s: %w: position %d, queue ends at %d (was the topic re-created?); reset the connector's offsets",
				q.name, errPastEnd, q.next, maxOff))
		}
		if hasNext {
			s.tc.Warn("rocketmq source: messages were deleted before they were read; continuing at the first one stored",
				"queue", q.name, "from", q.next, "to", next, "min", minOff)
		}
	case rmqwire.RespSubscriptionParseFailed, rmqwire.RespSystemError, rmqwire.RespSubscriptionNotExist, rmqwire.RespSubscriptionNotLatest:
		if s.sql != "" || s.tags != nil {
			return api.Fatal(fmt.Errorf("rocketmq source: %w: %s (source.filter.sql needs a broker with enablePropertyFilter=true and a valid SQL92 expression)", errFilter, resp.Err()))
		}
		return s.retryPull(q, resp)
	case rmqwire.RespNoPermission, rmqwire.RespSubscriptionGroupNotExist:
		return s.answerErr("pull "+q.name, resp)
	default:
		return s.retryPull(q, resp)
	}
	if hasNext && next >= q.next {
		q.next = next
	}
	if hasMax {
		s.SetLag(q.name, maxOff-q.next)
	}
	return nil
}

// retryPull reports a pull the broker refused for now (busy, topic not
// yet there): the queue is pulled again at the next Read.
func (s *source) retryPull(q *queue, resp *rmqwire.Command) error {
	err := fmt.Errorf("rocketmq source: pull %s at %d: %s", q.name, q.next, resp.Err())
	if len(s.pending) > 0 {
		s.log.Warn("rocketmq source: a pull was refused; retrying", "err", err)
		return nil
	}
	return api.Retryable(err)
}

func (s *source) Open(ctx context.Context) error {
	if err := s.refreshMetadata(ctx); err != nil {
		return err
	}
	s.opened = true
	s.nextPublish = time.Now().Add(s.publishN)
	return nil
}

func (s *source) Read(ctx context.Context) ([]api.Record, error) {
	for {
		if len(s.pending) > 0 {
			return s.take(), nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		now := time.Now()
		if !now.Before(s.nextPublish) {
			s.publish(ctx)
			s.nextPublish = now.Add(s.publishN)
		}
		if !now.Before(s.nextMeta) {
			if err := s.refreshMetadata(ctx); err != nil {
				return nil, err
			}
		}
		if len(s.order) == 0 {
			if err := sleep(ctx, min(time.Until(s.nextMeta), time.Until(s.nextPublish))); err != nil {
				return nil, err
			}
			continue
		}
		if err := s.sendPulls(ctx); err != nil {
			return nil, err
		}
		if err := s.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// take hands out up to batch.size pending records.
func (s *source) take() []api.Record {
	n := min(len(s.pending), s.batch)
	out := s.pending[:n:n]
	s.pending = s.pending[n:]
	if len(s.pending) == 0 {
		s.pending = nil
	}
	return out
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Close publishes the last committed positions and closes every link,
// abandoning the pulls in flight.
func (s *source) Close(ctx context.Context) error {
	s.publish(ctx)
	for addr := range s.links {
		s.drop(addr)
	}
	return nil
}
