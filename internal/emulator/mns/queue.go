package mns

import (
	"cmp"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits and defaults from the MNS API reference.
const (
	maxBatch           = 16 // messages per batch send/receive/delete
	defaultPriority    = 8
	minPriority        = 1
	maxPriority        = 16
	maxDelaySeconds    = 604800
	maxWaitSeconds     = 30
	minVisibility      = 1
	maxVisibility      = 43200
	minMessageSize     = 1024
	maxMessageSize     = 65536
	minRetention       = 60
	maxRetention       = 1296000
	defaultVisibility  = 30
	defaultRetention   = 345600
	defaultMessageSize = 65536
)

// queueAttrs are a queue's settable attributes.
type queueAttrs struct {
	DelaySeconds           int64
	MaximumMessageSize     int64
	MessageRetentionPeriod int64
	VisibilityTimeout      int64
	PollingWaitSeconds     int64
	LoggingEnabled         bool
}

func defaultAttrs() queueAttrs {
	return queueAttrs{
		MaximumMessageSize:     defaultMessageSize,
		MessageRetentionPeriod: defaultRetention,
		VisibilityTimeout:      defaultVisibility,
	}
}

// validate checks every attribute against the MNS ranges.
func (a queueAttrs) validate() *apiError {
	checks := []struct {
		name      string
		v, lo, hi int64
	}{
		{"DelaySeconds", a.DelaySeconds, 0, maxDelaySeconds},
		{"MaximumMessageSize", a.MaximumMessageSize, minMessageSize, maxMessageSize},
		{"MessageRetentionPeriod", a.MessageRetentionPeriod, minRetention, maxRetention},
		{"VisibilityTimeout", a.VisibilityTimeout, minVisibility, maxVisibility},
		{"PollingWaitSeconds", a.PollingWaitSeconds, 0, maxWaitSeconds},
	}
	for _, c := range checks {
		if c.v < c.lo || c.v > c.hi {
			return errRange(c.name, c.lo, c.hi)
		}
	}
	return nil
}

// message is one message in a queue.
type message struct {
	seq          uint64
	id           string
	body         string
	bodyMD5      string
	priority     int64
	enqueued     time.Time
	visibleAt    time.Time // receivable at or after this instant
	firstDequeue time.Time // zero until the first receive
	dequeueCount int64
	handle       string // the only receipt handle that is currently valid; "" if none
}

// queue is one MNS queue. It does no I/O and reads no clock: every method
// takes the current time, so the caller (Server, under Server.mu) decides
// what "now" is and tests can drive it exhaustively.
type queue struct {
	name     string
	attrs    queueAttrs
	created  time.Time
	modified time.Time
	// idPrefix makes message ids unique across queues and server restarts.
	idPrefix  string
	msgs      map[uint64]*message
	nextSeq   uint64
	handleSeq uint64
	// notify is closed (and replaced) whenever a receive might now succeed,
	// waking long-polling receivers.
	notify chan struct{}
}

func newQueue(name string, attrs queueAttrs, now time.Time, idPrefix string) *queue {
	return &queue{
		name: name, attrs: attrs, created: now, modified: now, idPrefix: idPrefix,
		msgs: map[uint64]*message{}, notify: make(chan struct{}),
	}
}

// wake releases every long-polling receiver of q.
func (q *queue) wake() {
	close(q.notify)
	q.notify = make(chan struct{})
}

// expire drops messages older than the retention period.
func (q *queue) expire(now time.Time) {
	keep := time.Duration(q.attrs.MessageRetentionPeriod) * time.Second
	for seq, m := range q.msgs {
		if !now.Before(m.enqueued.Add(keep)) {
			delete(q.msgs, seq)
		}
	}
}

// sendInput is one message to enqueue, already validated.
type sendInput struct {
	Body         string
	DelaySeconds int64
	Priority     int64
}

// sendResult is what SendMessage reports for one message.
type sendResult struct {
	ID      string
	BodyMD5 string
	Handle  string // only for delayed messages, as MNS does
}

// validateSend checks one message against the queue's limits.
func (q *queue) validateSend(in sendInput) *apiError {
	if int64(len(in.Body)) > q.attrs.MaximumMessageSize {
		return newAPIError(400, "InvalidArgument",
			"The length of message should not be larger than MaximumMessageSize(%d).", q.attrs.MaximumMessageSize)
	}
	if in.DelaySeconds < 0 || in.DelaySeconds > maxDelaySeconds {
		return errRange("DelaySeconds", 0, maxDelaySeconds)
	}
	if in.Priority < minPriority || in.Priority > maxPriority {
		return errRange("Priority", minPriority, maxPriority)
	}
	return nil
}

// send enqueues a validated message.
func (q *queue) send(in sendInput, now time.Time) sendResult {
	q.nextSeq++
	sum := md5.Sum([]byte(in.Body))
	m := &message{
		seq:       q.nextSeq,
		id:        fmt.Sprintf("%s-%X-%08X", q.idPrefix, now.UnixMilli(), q.nextSeq),
		body:      in.Body,
		bodyMD5:   strings.ToUpper(hex.EncodeToString(sum[:])),
		priority:  in.Priority,
		enqueued:  now,
		visibleAt: now.Add(time.Duration(in.DelaySeconds) * time.Second),
	}
	q.msgs[m.seq] = m
	res := sendResult{ID: m.id, BodyMD5: m.bodyMD5}
	if in.DelaySeconds > 0 {
		// A delayed message gets a handle so its sender can delete it or
		// change its visibility before it is ever delivered.
		res.Handle = q.newHandle(m)
	}
	q.wake()
	return res
}

// newHandle issues a fresh receipt handle for m, invalidating the old one.
// The handle encodes the message's sequence number so lookups need no index;
// the counter makes every handle distinct.
func (q *queue) newHandle(m *message) string {
	q.handleSeq++
	raw := fmt.Sprintf("%d-%d", m.seq, q.handleSeq)
	m.handle = "1-" + base64.StdEncoding.EncodeToString([]byte(raw))
	return m.handle
}

// parseHandle returns the message sequence number a receipt handle names.
func parseHandle(h string) (uint64, bool) {
	rest, ok := strings.CutPrefix(h, "1-")
	if !ok {
		return 0, false
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return 0, false
	}
	seqText, counter, ok := strings.Cut(string(raw), "-")
	if !ok {
		return 0, false
	}
	if _, err := strconv.ParseUint(counter, 10, 64); err != nil {
		return 0, false
	}
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil || seq == 0 {
		return 0, false
	}
	return seq, true
}

// visible returns up to n receivable messages in delivery order: smaller
// Priority first, then FIFO. A linear scan is fine at emulator sizes.
func (q *queue) visible(now time.Time, n int) []*message {
	var out []*message
	for _, m := range q.msgs {
		if !m.visibleAt.After(now) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *message) int {
		if c := cmp.Compare(a.priority, b.priority); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// receive takes up to n messages, making each invisible for visibility
// (the queue's VisibilityTimeout when zero) and issuing new receipt handles.
func (q *queue) receive(now time.Time, n int) []receiveEntry {
	q.expire(now)
	ms := q.visible(now, n)
	out := make([]receiveEntry, 0, len(ms))
	vis := time.Duration(q.attrs.VisibilityTimeout) * time.Second
	for _, m := range ms {
		if m.firstDequeue.IsZero() {
			m.firstDequeue = now
		}
		m.dequeueCount++
		m.visibleAt = now.Add(vis)
		q.newHandle(m)
		out = append(out, snapshot(m, true))
	}
	return out
}

// peek returns up to n receivable messages without changing them.
func (q *queue) peek(now time.Time, n int) []receiveEntry {
	q.expire(now)
	ms := q.visible(now, n)
	out := make([]receiveEntry, 0, len(ms))
	for _, m := range ms {
		out = append(out, snapshot(m, false))
	}
	return out
}

func snapshot(m *message, withHandle bool) receiveEntry {
	r := receiveEntry{
		ID: m.id, Body: m.body, BodyMD5: m.bodyMD5,
		EnqueueTime: m.enqueued.UnixMilli(), DequeueCount: m.dequeueCount, Priority: m.priority,
	}
	if !m.firstDequeue.IsZero() {
		r.FirstDequeueTime = m.firstDequeue.UnixMilli()
	}
	if withHandle {
		r.Handle = m.handle
		r.NextVisibleTime = m.visibleAt.UnixMilli()
	}
	return r
}

// byHandle resolves a receipt handle to its message. A handle that does not
// parse is ReceiptHandleError; one whose message is gone is MessageNotExist;
// one that was superseded by a later receive or visibility change, or whose
// visibility period has ended, is ReceiptHandleError (MNS documents a handle
// as valid only until NextVisibleTime).
func (q *queue) byHandle(h string, now time.Time) (*message, *apiError) {
	if h == "" {
		return nil, errMissingHandle
	}
	seq, ok := parseHandle(h)
	if !ok {
		return nil, errReceiptHandle
	}
	q.expire(now)
	m := q.msgs[seq]
	if m == nil {
		return nil, errMessageNotExist
	}
	if m.handle != h || !now.Before(m.visibleAt) {
		return nil, errReceiptHandle
	}
	return m, nil
}

// delete removes the message a valid receipt handle names.
func (q *queue) delete(h string, now time.Time) *apiError {
	m, err := q.byHandle(h, now)
	if err != nil {
		return err
	}
	delete(q.msgs, m.seq)
	return nil
}

// changeVisibility makes the message invisible for seconds from now and
// returns its new receipt handle and next visible time.
func (q *queue) changeVisibility(h string, seconds int64, now time.Time) (string, time.Time, *apiError) {
	if seconds < minVisibility || seconds > maxVisibility {
		return "", time.Time{}, errRange("VisibilityTimeout", minVisibility, maxVisibility)
	}
	m, err := q.byHandle(h, now)
	if err != nil {
		return "", time.Time{}, err
	}
	m.visibleAt = now.Add(time.Duration(seconds) * time.Second)
	return q.newHandle(m), m.visibleAt, nil
}

// nextVisible is the earliest future instant at which a message becomes
// receivable, or the zero time if none is pending.
func (q *queue) nextVisible(now time.Time) time.Time {
	var next time.Time
	for _, m := range q.msgs {
		if m.visibleAt.After(now) && (next.IsZero() || m.visibleAt.Before(next)) {
			next = m.visibleAt
		}
	}
	return next
}

// counts are the queue's message statistics.
type counts struct{ Active, Inactive, Delayed int64 }

// stats counts active (receivable), inactive (received, invisible) and
// delayed (never delivered, held back by DelaySeconds) messages.
func (q *queue) stats(now time.Time) counts {
	q.expire(now)
	var c counts
	for _, m := range q.msgs {
		switch {
		case !m.visibleAt.After(now):
			c.Active++
		case m.dequeueCount == 0:
			c.Delayed++
		default:
			c.Inactive++
		}
	}
	return c
}
