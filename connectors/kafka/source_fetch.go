package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	fetchapi "github.com/segmentio/kafka-go/protocol/fetch"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// noLeader marks a partition whose leader the metadata does not name.
const noLeader = -1

// refreshMetadata lists the topics' partitions (from the transport's
// metadata cache, which it refreshes every metadata.refresh.interval),
// keeps those this task owns by kit.Owner, and positions the new ones:
// at the stored position when there is one, else by start at Open, and
// at the earliest offset for a partition that appeared while running
// (everything in it is new).
func (s *source) refreshMetadata(ctx context.Context) error {
	s.nextMeta = time.Now().Add(s.refresh)
	if s.staleMeta {
		s.staleMeta = false
		s.tr.CloseIdleConnections() // the next request fetches new metadata
	}
	mctx, cancel := context.WithTimeout(ctx, s.conn.dialTimeout+requestTimeout)
	defer cancel()
	md, err := s.client.Metadata(mctx, &kafkago.MetadataRequest{Addr: s.addr, Topics: s.topics})
	if err != nil {
		if err := ctxDone(ctx); err != nil {
			return err
		}
		return triage.Mark(fmt.Errorf("kafka source: metadata from %s: %w", strings.Join(s.conn.brokers, ","), err))
	}
	want := map[tp]int{} // owned partition → leader
	for _, t := range md.Topics {
		if s.re != nil && (t.Internal || !s.re.MatchString(t.Name)) {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafkago.UnknownTopicOrPartition) && s.re == nil {
				return api.Fatal(fmt.Errorf("kafka source: topic %q does not exist: create it or remove it from source.topics", t.Name))
			}
			return triage.Mark(fmt.Errorf("kafka source: topic %q: %w", t.Name, t.Error))
		}
		for _, p := range t.Partitions {
			if kit.Owns(s.tc.Task, s.tc.Tasks, t.Name, p.ID) {
				leader := p.Leader.ID
				if p.Leader.Host == "" {
					leader = noLeader // mid-election: skipped until a refresh shows one
				}
				want[tp{t.Name, p.ID}] = leader
			}
		}
	}
	if s.re != nil && len(want) == 0 && !s.warnedEmpty {
		s.warnedEmpty = true
		s.log.Info("kafka source: no partition of a topic matching topics.regex is this task's yet", "regex", s.re.String())
	}
	var fresh []*part
	for k, leader := range want {
		if p := s.parts[k]; p != nil {
			p.leader = leader
			continue
		}
		name := partitionName(k.topic, k.id)
		p := &part{tp: k, name: name, next: -1, leader: leader, idPrefix: name + "-", topicValue: k.topic}
		if pos, ok := s.tc.Committed[p.name]; ok {
			p.next, _ = parseOffset(pos) // checked in newSource
		}
		fresh = append(fresh, p)
	}
	if err := s.position(ctx, fresh); err != nil {
		return err
	}
	for _, p := range fresh {
		s.parts[p.tp] = p
		if s.opened {
			s.log.Info("kafka source: reading a new partition", "partition", p.name, "offset", p.next)
		}
	}
	for k, p := range s.parts {
		if _, ok := want[k]; !ok {
			s.log.Info("kafka source: partition gone from the metadata; no longer read", "partition", p.name)
			delete(s.parts, k)
			s.DropLag(p.name)
		}
	}
	s.order = s.order[:0]
	for _, p := range s.parts {
		s.order = append(s.order, p)
	}
	slices.SortFunc(s.order, func(a, b *part) int { return strings.Compare(a.name, b.name) })
	s.groups = nil // leaders and partitions may have changed
	return nil
}

// position sets next for the partitions without a stored position (next
// < 0): by the start mode at Open, at the earliest offset afterwards.
func (s *source) position(ctx context.Context, parts []*part) error {
	mode := s.start
	if s.opened {
		mode = startMode{Kind: "earliest"}
	}
	var todo []*part
	for _, p := range parts {
		if p.next < 0 {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	offs, err := s.listOffsets(ctx, todo, mode)
	if err != nil {
		return err
	}
	var unresolved []*part
	for _, p := range todo {
		if off, ok := offs[p.tp]; ok && off >= 0 {
			p.next = off
		} else {
			unresolved = append(unresolved, p)
		}
	}
	if len(unresolved) == 0 {
		return nil
	}
	// timestamp: no record at or after it, so start at the end.
	offs, err = s.listOffsets(ctx, unresolved, startMode{Kind: "latest"})
	if err != nil {
		return err
	}
	for _, p := range unresolved {
		off, ok := offs[p.tp]
		if !ok || off < 0 {
			return api.Retryable(fmt.Errorf("kafka source: no offset for %s", p.name))
		}
		p.next = off
	}
	return nil
}

// listOffsets asks for the offset mode names of each partition.
func (s *source) listOffsets(ctx context.Context, parts []*part, mode startMode) (map[tp]int64, error) {
	req := &kafkago.ListOffsetsRequest{Addr: s.addr, Topics: map[string][]kafkago.OffsetRequest{}}
	for _, p := range parts {
		var r kafkago.OffsetRequest
		switch mode.Kind {
		case "earliest":
			r = kafkago.FirstOffsetOf(p.id)
		case "latest":
			r = kafkago.LastOffsetOf(p.id)
		default:
			r = kafkago.TimeOffsetOf(p.id, time.UnixMilli(mode.Ms))
		}
		req.Topics[p.topic] = append(req.Topics[p.topic], r)
	}
	lctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := s.client.ListOffsets(lctx, req)
	if err != nil {
		if err := ctxDone(ctx); err != nil {
			return nil, err
		}
		return nil, triage.Mark(fmt.Errorf("kafka source: list offsets: %w", err))
	}
	out := map[tp]int64{}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				// A new partition's leader not known everywhere yet, say:
				// the retry starts from fresh metadata.
				s.staleMeta = true
				return nil, triage.Mark(fmt.Errorf("kafka source: list offsets of %s: %w", partitionName(topic, p.Partition), p.Error))
			}
			off := int64(-1)
			switch mode.Kind {
			case "earliest":
				off = p.FirstOffset
			case "latest":
				off = p.LastOffset
			default:
				for o := range p.Offsets {
					off = o
				}
			}
			out[tp{topic, p.Partition}] = off
		}
	}
	return out, nil
}

// job is one fetch request on its own goroutine: the partitions it
// fetches (from their next offsets, which only it may move while it is in
// flight) and, once landed, their records decoded into one batch, each
// partition's in order.
type job struct {
	slot  int // its group
	parts []*part
	recs  []api.Record
	units []unit
	err   error // the request failed
}

// unit is one partition of a landed job: its error, or its high
// watermark, the offset after its last record decoded, how many it
// decoded and why decoding stopped early (the records before are kept).
type unit struct {
	p    *part
	kerr int16 // the partition's error code
	hw   int64
	next int64
	n    int
	err  error
}

// launch starts a job for every group that has none in flight, making
// the groups first if the partitions changed.
func (s *source) launch() {
	if s.groups == nil {
		s.groups = s.requests()
		s.jobs = make([]*job, len(s.groups))
		s.results = make(chan *job, len(s.groups))
		for len(s.decoders) < len(s.groups) {
			s.decoders = append(s.decoders, &decoder{evSource: s.evSource})
		}
	}
	for i, parts := range s.groups {
		if s.jobs[i] != nil {
			continue
		}
		j, d := &job{slot: i, parts: parts}, s.decoders[i]
		s.jobs[i] = j
		s.running++
		go func() {
			s.run(j, d)
			s.results <- j // never blocks: room for every group's job
		}()
	}
}

// land takes a job's records and moves its partitions' offsets and lag.
// An offset out of range and other partition errors are handled as
// partitionError says; a failed request marks the metadata stale. The
// error is for Read: fatal, or retryable when nothing is left to hand out.
func (s *source) land(ctx context.Context, j *job) error {
	s.running--
	s.jobs[j.slot] = nil
	var errs []error
	if j.err != nil {
		errs = append(errs, j.err)
	}
	if len(j.recs) > 0 {
		s.pending = append(s.pending, j.recs)
	}
	for _, u := range j.units {
		switch {
		case u.kerr != 0:
			if err := s.partitionError(ctx, u.p, kafkago.Error(u.kerr)); err != nil {
				errs = append(errs, err)
			}
			continue
		case u.err != nil:
			errs = append(errs, fmt.Errorf("kafka source: %s: %w", u.p.name, u.err))
		}
		u.p.next = u.next
		if u.n > 0 {
			u.p.lastCount = u.n
		}
		s.SetLag(u.p.name, u.hw-u.p.next)
	}
	if len(errs) == 0 {
		return nil
	}
	// A leader that moved, a partition the broker does not know: the
	// transport's cached metadata is stale. It refreshes only on its
	// timer, so the next metadata refresh, a second from now at most,
	// starts it afresh.
	s.staleMeta = true
	if soon := time.Now().Add(time.Second); soon.Before(s.nextMeta) {
		s.nextMeta = soon
	}
	err := errors.Join(errs...)
	// What retrying cannot fix fails the task at once; records decoded but
	// not handed out are read again after the restart (nothing of them
	// was committed).
	if api.IsFatal(err) {
		s.pending = nil
		return api.Fatal(err)
	}
	if len(s.pending) > 0 {
		s.log.Warn("kafka source: some partitions could not be fetched; retrying them", "err", err)
		return nil
	}
	// Nothing read: let the engine back off.
	return api.Retryable(err)
}

// requests groups the partitions with a leader by leader, in the fetch
// order, and splits each leader's into up to GOMAXPROCS / tasks.max
// groups, at least one (round-robin, so each gets its share of busy
// partitions): one fetch request each, whose answers kafka-go parses on a
// connection goroutine each and the source decodes on a job goroutine
// each. The connector's tasks share the cores: three tasks of two
// requests each on two cores ran slower than one task (the cores' time
// went to switching between six decoders and three engines).
func (s *source) requests() [][]*part {
	byLeader := map[int][]*part{}
	var leaders []int
	for _, p := range s.order {
		if p.leader == noLeader {
			continue
		}
		if _, ok := byLeader[p.leader]; !ok {
			leaders = append(leaders, p.leader)
		}
		byLeader[p.leader] = append(byLeader[p.leader], p)
	}
	split := max(1, goruntime.GOMAXPROCS(0)/max(1, s.tc.Tasks))
	var groups [][]*part
	for _, l := range leaders {
		ps := byLeader[l]
		k := min(split, len(ps))
		first := len(groups)
		groups = append(groups, make([][]*part, k)...)
		for i, p := range ps {
			groups[first+i%k] = append(groups[first+i%k], p)
		}
	}
	return groups
}

// run sends a job's request and decodes the answer with d, into one batch
// sized by what its partitions held last time. It reads s.parts, which
// does not change while a job is in flight, and writes only the job.
func (s *source) run(j *job, d *decoder) {
	ctx, cancel := context.WithTimeout(s.runCtx, s.maxWait+requestTimeout)
	defer cancel()
	r, err := s.fetchFrom(ctx, j.parts)
	if err != nil {
		j.err = err
		return
	}
	hint := 0
	for _, p := range j.parts {
		hint += p.lastCount
	}
	j.recs = make([]api.Record, 0, max(hint, 16))
	for ti := range r.Topics {
		rt := &r.Topics[ti]
		for pi := range rt.Partitions {
			rp := &rt.Partitions[pi]
			p := s.parts[tp{rt.Topic, int(rp.Partition)}]
			if p == nil {
				continue
			}
			u := unit{p: p, kerr: rp.ErrorCode, hw: rp.HighWatermark, next: p.next}
			if u.kerr == 0 && rp.RecordSet.Records != nil {
				n := len(j.recs)
				j.recs, u.next, u.err = d.decodeRecords(j.recs, p, u.next, rp.RecordSet.Records)
				u.n = len(j.recs) - n
			}
			j.units = append(j.units, u)
		}
	}
}

func (s *source) fetchFrom(ctx context.Context, parts []*part) (*fetchapi.Response, error) {
	req := &fetchapi.Request{
		ReplicaID:    -1,
		MaxWaitTime:  int32(s.maxWait / time.Millisecond),
		MinBytes:     s.minBytes,
		MaxBytes:     s.fetchMax,
		SessionID:    -1,
		SessionEpoch: -1,
	}
	for _, p := range parts {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != p.topic {
			req.Topics = append(req.Topics, fetchapi.RequestTopic{Topic: p.topic})
		}
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, fetchapi.RequestPartition{
			Partition: int32(p.id), CurrentLeaderEpoch: -1, FetchOffset: p.next,
			LogStartOffset: -1, PartitionMaxBytes: s.partMax,
		})
	}
	m, err := s.tr.RoundTrip(ctx, s.addr, req)
	if err != nil {
		return nil, triage.Mark(fmt.Errorf("kafka source: fetch: %w", err))
	}
	r, ok := m.(*fetchapi.Response)
	if !ok {
		return nil, api.Retryable(fmt.Errorf("kafka source: fetch: unexpected answer %T", m))
	}
	if r.ErrorCode != 0 {
		return nil, triage.Mark(fmt.Errorf("kafka source: fetch: %w", kafkago.Error(r.ErrorCode)))
	}
	return r, nil
}

// partitionError handles one partition's fetch error. An offset out of
// range moves a position the log no longer holds (retention) to the
// earliest offset, with a warning, and fails the task for a position past
// the log's end (the topic was re-created or truncated: reset the
// connector's offsets). The rest is classified by the triage.
func (s *source) partitionError(ctx context.Context, p *part, kerr kafkago.Error) error {
	if kerr != kafkago.OffsetOutOfRange {
		return triage.Mark(fmt.Errorf("kafka source: fetch %s: %w", p.name, kerr))
	}
	first, err := s.listOffsets(ctx, []*part{p}, startMode{Kind: "earliest"})
	if err != nil {
		return err
	}
	if f := first[p.tp]; p.next < f {
		s.tc.Warn("kafka source: records were deleted by retention before they were read; continuing at the earliest offset",
			"partition", p.name, "from", p.next, "to", f)
		p.next = f
		return nil
	}
	return api.Fatal(fmt.Errorf("kafka source: %s: position %d is past the end of the partition (was the topic re-created?); reset the connector's offsets", p.name, p.next))
}

// decodeRecords appends the records of one partition's record batches
// to out, from offset next on (a batch may start earlier), skipping
// transaction markers (control batches), and returns the offset after
// the last record it passed.
func (d *decoder) decodeRecords(out []api.Record, p *part, next int64, rr protocol.RecordReader) ([]api.Record, int64, error) {
	batches := []protocol.RecordReader{rr}
	if st, ok := rr.(*protocol.RecordStream); ok {
		batches = st.Records
	}
	for _, b := range batches {
		_, control := b.(*protocol.ControlBatch)
		for {
			r, err := b.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return out, next, err
			}
			if r.Offset < next {
				closeRecord(r)
				continue
			}
			if control {
				closeRecord(r)
				next = r.Offset + 1
				continue
			}
			rec, err := d.record(p, r)
			closeRecord(r)
			if err != nil {
				return out, next, err
			}
			out = append(out, rec)
			next = r.Offset + 1
		}
	}
	return out, next, nil
}

func closeRecord(r *protocol.Record) {
	if r.Key != nil {
		r.Key.Close()
	}
	if r.Value != nil {
		r.Value.Close()
	}
}

// ctxDone returns ctx's error, also when its deadline has passed but the
// timer has not fired yet: a connection deadline set from ctx's can
// fail a request a moment before ctx is done.
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
