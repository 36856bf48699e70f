package dts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	fetchapi "github.com/segmentio/kafka-go/protocol/fetch"
	"github.com/segmentio/kafka-go/sasl/plain"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// Source is the dts source plugin. Its settings, under source.:
//
//	field                         type      default   description
//	brokers                       list      required  The subscription's Kafka endpoint (DTS console: network address), host:port, comma-separated.
//	topic                         string    required  The subscription topic (one partition).
//	sid                           string    required  The consumer group ID (DTS console: consumer groups). One client per group: the source refuses to start while another client is a member.
//	user                          string    required  The consumer group's account; the source logs in (SASL PLAIN) as <user>-<sid>.
//	password                      string    required  The consumer group account's password; use ${env:…}, ${file:…} or ${dir:…}. Secret.
//	start.timestamp               int       -         Where a new connector starts: the first record at or after this time, Unix seconds. Used only while Ferry holds no position for it; a restart always resumes from the stored position. Default: the oldest record the subscription holds.
//	table.include.list            list      -         Regular expressions (full match) of <database>.<table> names to emit; all tables when absent. Records of other tables only move the position.
//	table.exclude.list            list      -         Regular expressions (full match) of <database>.<table> names not to emit (or table.include.list, not both).
//	provide.transaction.metadata  boolean   false     Emit BEGIN and END transaction events around each transaction that touches an emitted table, as mysql-cdc does.
//	batch.size                    int       4096      Most records one Read returns.
//	fetch.max.bytes               int       16777216  Most bytes one fetch request returns (a first record batch larger than this is still returned).
//	fetch.max.wait                duration  500ms     Longest the endpoint holds a fetch while no record is there.
//	dial.timeout                  duration  10s       Time to connect to the endpoint.
//
// docs/dts-source.md is the user's guide.
var Source = api.SourcePlugin{
	Name:     "dts",
	Summary:  "Reads an Alibaba Cloud DTS data subscription (Kafka protocol, Avro records) as mysql-cdc's change events: Debezium envelopes for the rds sink's cdc mode.",
	Spec:     spec,
	New:      newSource,
	Validate: validate,
	// A subscription is one partition: one task reads it.
	Plan: func(api.Config, int) ([]map[string]string, error) { return []map[string]string{{}}, nil },
}

// Event types. The Debezium op letter is in the data as well.
const (
	TypeInsert    = "ferry.dts.insert"      // op c
	TypeUpdate    = "ferry.dts.update"      // op u
	TypeDelete    = "ferry.dts.delete"      // op d
	TypeDDL       = "ferry.dts.ddl"         // schema change
	TypeHeartbeat = "ferry.dts.heartbeat"   // position only
	TypeTx        = "ferry.dts.transaction" // BEGIN / END
)

// Group membership timing: the source heartbeats from Read, so the
// session outlasts the engine's longest pause between Reads it expects
// (a sink retrying); after one, the source rejoins.
const (
	sessionTimeout   = 30 * time.Second
	rebalanceTimeout = 10 * time.Second
	heartbeatEvery   = 3 * time.Second
	commitEvery      = 5 * time.Second
	requestTimeout   = 30 * time.Second
)

type source struct {
	tc        api.TaskConfig
	cfg       *settings
	log       *slog.Logger
	evSource  string
	partition string
	idPrefix  string
	tr        *kafkago.Transport
	client    *kafkago.Client
	addr      net.Addr
	rd        *avro.Reader
	rec       record
	wanted    map[string]bool // "db.table" → emitted (a cache of cfg.tableWanted)

	// The reader's state: Open, Read and Close run one at a time.
	store     string   // cluster ID of the store being read
	next      int64    // offset of the next record to fetch
	last      position // the last record read (or the one resumed after)
	floor     int64    // records whose id is at most this were delivered: skipped
	delta     int64    // id - offset of the last record; a change means the store may have switched
	haveDelta bool
	verify    bool // check the store before the next fetch
	reseeked  bool // the position was found by timestamp: check the next id follows floor
	pending   []api.Record
	beat      bool // the last record read emitted nothing: a heartbeat carries its position
	tx        txState

	member     string
	generation int
	nextBeat   time.Time
	nextCommit time.Time

	// mu guards what Committed and Lag share with the reader.
	mu        sync.Mutex
	toPublish api.Position
	lag       int64
	lagKnown  bool
}

// txState follows the transaction being read for transaction metadata.
type txState struct {
	id     string
	count  int
	tables map[string]int
	begun  bool
}

func newSource(tc api.TaskConfig) (api.Source, error) {
	cfg, err := parseSettings(tc.Config)
	if err != nil {
		return nil, api.Fatal(fmt.Errorf("dts source: %w", err))
	}
	s := &source{
		tc:        tc,
		cfg:       cfg,
		log:       tc.Logger,
		evSource:  "/ferry/dts/" + tc.Connector,
		partition: cfg.topic + "-0",
		idPrefix:  cfg.topic + ":",
		rd:        newReader(),
		wanted:    map[string]bool{},
		floor:     -1 << 63,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	for name, pos := range tc.Committed {
		if name != s.partition {
			return nil, api.Fatal(fmt.Errorf("dts source: %w: partition %q is not %s (was source.topic changed? reset the connector's offsets)", ErrBadPosition, name, s.partition))
		}
		if _, err := decodePosition(pos); err != nil {
			return nil, api.Fatal(fmt.Errorf("dts source: %w", err))
		}
	}
	s.tr = &kafkago.Transport{
		ClientID: "ferry-" + tc.Connector, DialTimeout: cfg.dial, IdleTimeout: 30 * time.Second, MetadataTTL: 30 * time.Second,
		MetadataTopics: []string{cfg.topic},
		SASL:           plain.Mechanism{Username: cfg.user + "-" + cfg.sid, Password: cfg.password},
	}
	s.addr = kafkago.TCP(cfg.brokers...)
	s.client = &kafkago.Client{Addr: s.addr, Transport: s.tr, Timeout: requestTimeout}
	return s, nil
}

func (s *source) Open(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		// The engine closes only a source that opened: end the
		// transport's connections here.
		s.tr.CloseIdleConnections()
		return err
	}
	return nil
}

func (s *source) open(ctx context.Context) error {
	if err := s.login(ctx); err != nil {
		return err
	}
	store, err := s.metadata(ctx)
	if err != nil {
		return err
	}
	s.store = store
	if err := s.join(ctx); err != nil {
		return err
	}
	pos, ok := s.tc.Committed[s.partition]
	if !ok {
		if s.cfg.startTS >= 0 {
			s.next, err = s.offsetAt(ctx, s.cfg.startTS)
			s.last = position{TS: s.cfg.startTS, Offset: -1}
		} else {
			s.next, err = s.listOffset(ctx, kafkago.FirstOffsetOf(0), func(p kafkago.PartitionOffsets) int64 { return p.FirstOffset })
		}
		s.log.Info("dts source: no stored position; starting", "offset", s.next, "start.timestamp", s.cfg.startTS)
		return err
	}
	p, _ := decodePosition(pos) // checked in newSource
	s.last, s.floor = p, p.ID
	if p.Store != "" && p.Store != store {
		s.tc.Warn("dts source: the subscription moved to another store since the stored position was written; resuming by its timestamp",
			"from_store", p.Store, "to_store", store, "ts", p.TS, "id", p.ID)
		s.reseeked = true
		s.next, err = s.offsetAt(ctx, p.TS)
		return err
	}
	// Re-read the stored record itself: its id confirms the store (it is
	// skipped as delivered).
	s.next, s.delta, s.haveDelta = p.Offset, p.ID-p.Offset, true
	return nil
}

// login connects once on its own, so that refused credentials fail the
// task with a message that says so: the pooled transport only reports a
// dropped connection.
func (s *source) login(ctx context.Context) error {
	d := &kafkago.Dialer{ClientID: s.tr.ClientID, Timeout: s.cfg.dial, DualStack: true, SASLMechanism: s.tr.SASL}
	var errs []error
	for _, b := range s.cfg.brokers {
		c, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if f := s.fail("log in to "+b, err); api.IsFatal(f) {
			return f
		}
		errs = append(errs, err)
	}
	return api.Retryable(fmt.Errorf("dts source: cannot connect to %s: %w", strings.Join(s.cfg.brokers, ","), errors.Join(errs...)))
}

// metadata checks the topic and returns the serving store's cluster ID,
// after dropping cached connections and metadata so the answer is fresh.
func (s *source) metadata(ctx context.Context) (string, error) {
	s.tr.CloseIdleConnections()
	mctx, cancel := context.WithTimeout(ctx, s.cfg.dial+requestTimeout)
	defer cancel()
	md, err := s.client.Metadata(mctx, &kafkago.MetadataRequest{Addr: s.addr, Topics: []string{s.cfg.topic}})
	if err != nil {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		return "", s.fail("metadata from "+strings.Join(s.cfg.brokers, ","), err)
	}
	for _, t := range md.Topics {
		if t.Name != s.cfg.topic {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafkago.UnknownTopicOrPartition) {
				return "", api.Fatal(fmt.Errorf("dts source: topic %q does not exist on %s: check source.topic against the subscription", s.cfg.topic, strings.Join(s.cfg.brokers, ",")))
			}
			return "", s.fail("topic "+s.cfg.topic, t.Error)
		}
		for _, p := range t.Partitions {
			if p.ID == 0 {
				return md.ClusterID, nil
			}
		}
	}
	return "", api.Retryable(fmt.Errorf("dts source: the metadata does not list partition 0 of %q yet", s.cfg.topic))
}

// fail classifies an error from the endpoint, naming what to fix when
// retrying cannot help.
func (s *source) fail(what string, err error) error {
	var ke kafkago.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafkago.SASLAuthenticationFailed, kafkago.IllegalSASLState, kafkago.UnsupportedSASLMechanism:
			return api.Fatal(fmt.Errorf("dts source: %s: authentication failed as %s-%s: check source.user, source.sid and source.password: %w", what, s.cfg.user, s.cfg.sid, err))
		case kafkago.TopicAuthorizationFailed:
			return api.Fatal(fmt.Errorf("dts source: %s: %s-%s may not read topic %q: check source.topic and source.sid: %w", what, s.cfg.user, s.cfg.sid, s.cfg.topic, err))
		case kafkago.GroupAuthorizationFailed:
			return api.Fatal(fmt.Errorf("dts source: %s: %s-%s may not use consumer group %q: check source.sid: %w", what, s.cfg.user, s.cfg.sid, s.cfg.sid, err))
		}
	}
	return api.Retryable(fmt.Errorf("dts source: %s: %w", what, err))
}

// offsetAt returns the offset of the first record at or after ts (Unix
// seconds), or the end of the log when there is none. DTS stamps records
// in seconds, and kafka-go sends a time's milliseconds: hand it ts as
// milliseconds.
func (s *source) offsetAt(ctx context.Context, ts int64) (int64, error) {
	off, err := s.listOffset(ctx, kafkago.TimeOffsetOf(0, time.UnixMilli(ts)), func(p kafkago.PartitionOffsets) int64 {
		for o := range p.Offsets {
			return o
		}
		return -1
	})
	if err != nil || off >= 0 {
		return off, err
	}
	return s.listOffset(ctx, kafkago.LastOffsetOf(0), func(p kafkago.PartitionOffsets) int64 { return p.LastOffset })
}

func (s *source) listOffset(ctx context.Context, req kafkago.OffsetRequest, pick func(kafkago.PartitionOffsets) int64) (int64, error) {
	lctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := s.client.ListOffsets(lctx, &kafkago.ListOffsetsRequest{Addr: s.addr,
		Topics: map[string][]kafkago.OffsetRequest{s.cfg.topic: {req}}})
	if err != nil {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		s.verify = true
		return 0, s.fail("list offsets", err)
	}
	for _, p := range resp.Topics[s.cfg.topic] {
		if p.Partition != 0 {
			continue
		}
		if p.Error != nil {
			s.verify = true
			return 0, s.fail("list offsets", p.Error)
		}
		return pick(p), nil
	}
	return 0, api.Retryable(fmt.Errorf("dts source: list offsets: no answer for %s", s.partition))
}

// join makes the source the consumer group's one member, so DTS and other
// clients see the group in use, and refuses a group another client is a
// member of.
func (s *source) join(ctx context.Context) error {
	gctx, cancel := context.WithTimeout(ctx, requestTimeout+rebalanceTimeout)
	defer cancel()
	dg, err := s.client.DescribeGroups(gctx, &kafkago.DescribeGroupsRequest{Addr: s.addr, GroupIDs: []string{s.cfg.sid}})
	if err != nil {
		return s.fail("describe consumer group", err)
	}
	for _, g := range dg.Groups {
		if g.Error != nil {
			return s.fail("describe consumer group", g.Error)
		}
		for _, m := range g.Members {
			// A member with this connector's client id is an earlier
			// task of it (a crashed worker's, or one being moved to this
			// worker): joining takes the group over, once that task
			// steps aside (membership) or its session ends.
			if m.MemberID != s.member && m.ClientID != s.tr.ClientID {
				s.leave(ctx)
				return s.inUse(m.ClientID, m.ClientHost)
			}
		}
	}
	for range 3 {
		jr, err := s.client.JoinGroup(gctx, &kafkago.JoinGroupRequest{
			Addr: s.addr, GroupID: s.cfg.sid, SessionTimeout: sessionTimeout, RebalanceTimeout: rebalanceTimeout,
			MemberID: s.member, ProtocolType: "consumer",
			Protocols: []kafkago.GroupProtocol{{Name: "range", Metadata: kafkago.GroupProtocolSubscription{Topics: []string{s.cfg.topic}}}},
		})
		if err == nil {
			err = jr.Error
		}
		if errors.Is(err, kafkago.MemberIDRequired) {
			s.member = jr.MemberID
			continue
		}
		if err != nil {
			s.member = ""
			return s.fail("join consumer group", err)
		}
		s.member, s.generation = jr.MemberID, jr.GenerationID
		if len(jr.Members) > 1 || jr.LeaderID != jr.MemberID {
			s.leave(ctx)
			return s.inUse("", "")
		}
		sr, err := s.client.SyncGroup(gctx, &kafkago.SyncGroupRequest{
			Addr: s.addr, GroupID: s.cfg.sid, GenerationID: s.generation, MemberID: s.member,
			ProtocolType: "consumer", ProtocolName: "range",
			Assignments: []kafkago.SyncGroupRequestAssignment{{MemberID: s.member,
				Assignment: kafkago.GroupProtocolAssignment{AssignedPartitions: map[string][]int{s.cfg.topic: {0}}}}},
		})
		if err == nil {
			err = sr.Error
		}
		if err != nil {
			return s.fail("sync consumer group", err)
		}
		s.nextBeat = time.Now().Add(heartbeatEvery)
		return nil
	}
	return api.Retryable(errors.New("dts source: join consumer group: no member id"))
}

func (s *source) inUse(client, host string) error {
	who := "another client"
	if client != "" || host != "" {
		who = fmt.Sprintf("client %q on %s", client, strings.TrimPrefix(host, "/"))
	}
	return api.Fatal(fmt.Errorf("%w: %s is a member of consumer group %q: DTS keeps one checkpoint per group, so two readers break it; stop the other client or give this connector its own group (source.sid)",
		ErrGroupInUse, who, s.cfg.sid))
}

// heartbeat keeps the membership; after a rebalance (another client
// joining) or a lost session it joins again, which refuses a group that
// has another member.
func (s *source) heartbeat(ctx context.Context) error {
	s.nextBeat = time.Now().Add(heartbeatEvery)
	hctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	hr, err := s.client.Heartbeat(hctx, &kafkago.HeartbeatRequest{Addr: s.addr, GroupID: s.cfg.sid,
		GenerationID: int32(s.generation), MemberID: s.member})
	if err == nil {
		err = hr.Error
	}
	if err == nil {
		err = s.membership(hctx)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrReplaced):
		return err
	case errors.Is(err, kafkago.RebalanceInProgress), errors.Is(err, kafkago.UnknownMemberId), errors.Is(err, kafkago.IllegalGeneration):
		s.log.Info("dts source: rejoining the consumer group", "group", s.cfg.sid, "reason", err)
		if errors.Is(err, kafkago.UnknownMemberId) {
			s.member = ""
		}
		return s.join(ctx)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.verify = true
	return s.fail("heartbeat", err)
}

// membership asks the coordinator whether the group is still this
// source's alone: a rebalance (another client joining) answers
// kafkago.RebalanceInProgress, a group no longer listing this source
// kafkago.UnknownMemberId, and a newer task of this connector in the
// group a fatal ErrReplaced, after leaving the group to it. The
// heartbeat's own answer cannot tell: kafka-go (v0.4.51) decodes a
// Heartbeat answer of version 1 or later with the error code and the
// throttle time swapped (segmentio/kafka-go pull request 1371), so
// REBALANCE_IN_PROGRESS and UNKNOWN_MEMBER_ID read as success and the
// source would go on reading beside the other client.
func (s *source) membership(ctx context.Context) error {
	dg, err := s.client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{Addr: s.addr, GroupIDs: []string{s.cfg.sid}})
	if err != nil {
		return err
	}
	for _, g := range dg.Groups {
		if g.Error != nil {
			return g.Error
		}
		me := false
		for _, m := range g.Members {
			switch {
			case m.MemberID == s.member:
				me = true
			case m.ClientID == s.tr.ClientID:
				s.leave(ctx)
				return api.Fatal(fmt.Errorf("%w: a task with client id %q on %s joined consumer group %q; this one leaves the group to it",
					ErrReplaced, m.ClientID, strings.TrimPrefix(m.ClientHost, "/"), s.cfg.sid))
			default:
				return kafkago.RebalanceInProgress
			}
		}
		switch {
		case !me:
			return kafkago.UnknownMemberId
		case g.GroupState != "Stable":
			return kafkago.RebalanceInProgress
		}
	}
	return nil
}

func (s *source) leave(ctx context.Context) {
	if s.member == "" {
		return
	}
	// Leave even when ctx is done (a stop): a member left behind holds
	// the group until its session times out.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, _ = s.client.LeaveGroup(lctx, &kafkago.LeaveGroupRequest{Addr: s.addr, GroupID: s.cfg.sid,
		Members: []kafkago.LeaveGroupRequestMember{{ID: s.member}}})
	s.member = ""
}

func (s *source) Read(ctx context.Context) ([]api.Record, error) {
	for {
		if len(s.pending) > 0 {
			n := min(len(s.pending), s.cfg.batch)
			out := s.pending[:n:n]
			s.pending = s.pending[n:]
			if len(s.pending) == 0 {
				s.pending = nil
			}
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.verify {
			if err := s.checkStore(ctx); err != nil {
				return nil, err
			}
		}
		now := time.Now()
		if !now.Before(s.nextBeat) {
			if err := s.heartbeat(ctx); err != nil {
				return nil, err
			}
		}
		if !now.Before(s.nextCommit) {
			s.publish(ctx)
			s.nextCommit = now.Add(commitEvery)
		}
		if err := s.fetch(ctx); err != nil {
			return nil, err
		}
	}
}

// checkStore asks for fresh metadata and, when another store serves the
// subscription now (a DTS store failover: offsets there mean other
// records), seeks by the last record's timestamp and skips what was
// delivered by id.
func (s *source) checkStore(ctx context.Context) error {
	store, err := s.metadata(ctx)
	if err != nil {
		return err
	}
	s.verify, s.haveDelta = false, false
	if store == s.store {
		return nil
	}
	s.tc.Warn("dts source: the subscription moved to another store (DTS store failover); re-seeking by timestamp",
		"from_store", s.store, "to_store", store, "ts", s.last.TS, "id", s.last.ID)
	s.store, s.member = store, ""
	if err := s.join(ctx); err != nil {
		return err
	}
	s.floor = max(s.floor, s.last.ID)
	off, err := s.offsetAt(ctx, max(s.last.TS, 0))
	if err != nil {
		s.verify = true
		return err
	}
	s.next, s.reseeked = off, true
	return nil
}

// fetch reads the partition from s.next into s.pending.
func (s *source) fetch(ctx context.Context) error {
	req := &fetchapi.Request{
		ReplicaID: -1, MaxWaitTime: int32(s.cfg.maxWait / time.Millisecond), MinBytes: 1, MaxBytes: s.cfg.fetchMax,
		SessionID: -1, SessionEpoch: -1,
		Topics: []fetchapi.RequestTopic{{Topic: s.cfg.topic, Partitions: []fetchapi.RequestPartition{{
			Partition: 0, CurrentLeaderEpoch: -1, FetchOffset: s.next, LogStartOffset: -1, PartitionMaxBytes: s.cfg.fetchMax,
		}}}},
	}
	fctx, cancel := context.WithTimeout(ctx, s.cfg.maxWait+requestTimeout)
	defer cancel()
	m, err := s.tr.RoundTrip(fctx, s.addr, req)
	if err != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		// A dropped connection may be a store switching: check it first.
		s.verify = true
		return s.fail("fetch", err)
	}
	r, ok := m.(*fetchapi.Response)
	if !ok {
		return api.Retryable(fmt.Errorf("dts source: fetch: unexpected answer %T", m))
	}
	if r.ErrorCode != 0 {
		s.verify = true
		return s.fail("fetch", kafkago.Error(r.ErrorCode))
	}
	for ti := range r.Topics {
		for pi := range r.Topics[ti].Partitions {
			rp := &r.Topics[ti].Partitions[pi]
			if r.Topics[ti].Topic != s.cfg.topic || rp.Partition != 0 {
				continue
			}
			if rp.ErrorCode != 0 {
				return s.partitionError(ctx, kafkago.Error(rp.ErrorCode))
			}
			if err := s.decodeRecords(rp.RecordSet.Records); err != nil {
				return err
			}
			s.mu.Lock()
			s.lag, s.lagKnown = max(rp.HighWatermark-s.next, 0), true
			s.mu.Unlock()
		}
	}
	if s.beat {
		s.beat = false
		s.pending = append(s.pending, s.heartbeatRecord())
	}
	return nil
}

// partitionError handles the partition's fetch error. An offset out of
// range means the store no longer holds the position, or another store
// serves the subscription: check which, and on the same store go on at the
// last timestamp (DTS purged older data), with a warning.
func (s *source) partitionError(ctx context.Context, kerr kafkago.Error) error {
	if kerr != kafkago.OffsetOutOfRange {
		s.verify = true
		return s.fail("fetch "+s.partition, kerr)
	}
	store, err := s.metadata(ctx)
	if err != nil {
		return err
	}
	if store != s.store {
		s.verify = true
		return s.checkStore(ctx)
	}
	off, err := s.offsetAt(ctx, max(s.last.TS, 0))
	if err != nil {
		return err
	}
	s.tc.Warn("dts source: the stored offset is outside the subscription's data; continuing from the last timestamp",
		"offset", s.next, "to", off, "ts", s.last.TS)
	s.floor, s.next, s.haveDelta, s.reseeked = max(s.floor, s.last.ID), off, false, true
	return nil
}

// decodeRecords turns the fetched batches into records from s.next on.
func (s *source) decodeRecords(rr protocol.RecordReader) error {
	if rr == nil {
		return nil
	}
	batches := []protocol.RecordReader{rr}
	if st, ok := rr.(*protocol.RecordStream); ok {
		batches = st.Records
	}
	for _, b := range batches {
		_, control := b.(*protocol.ControlBatch)
		for {
			kr, err := b.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return api.Retryable(fmt.Errorf("dts source: fetch %s: %w", s.partition, err))
			}
			if kr.Offset < s.next || control || kr.Value == nil {
				if kr.Offset >= s.next {
					s.next = kr.Offset + 1
				}
				closeRecord(kr)
				continue
			}
			value, err := protocol.ReadAll(kr.Value)
			offset := kr.Offset
			closeRecord(kr)
			if err != nil {
				return api.Retryable(fmt.Errorf("dts source: fetch %s: %w", s.partition, err))
			}
			if err := decodeRecord(s.rd, value, &s.rec); err != nil {
				return api.Fatal(fmt.Errorf("dts source: %s offset %d: %w", s.partition, offset, err))
			}
			if s.haveDelta && s.rec.ID-offset != s.delta {
				// Ids and offsets no longer advance together: the store may
				// have switched under the connection. Check before using
				// anything more from this answer.
				s.verify = true
				return nil
			}
			s.delta, s.haveDelta = s.rec.ID-offset, true
			s.next = offset + 1
			if s.rec.ID <= s.floor {
				continue // delivered before the restart or failover
			}
			if s.reseeked {
				s.reseeked = false
				if s.floor >= 0 && s.rec.ID != s.floor+1 {
					// DTS numbers a subscription's records one by one: a
					// jump means the store does not hold what came between.
					s.tc.Warn("dts source: after seeking by timestamp the next record is not the one after the last delivered; the store may not hold the records between",
						"last_id", s.floor, "next_id", s.rec.ID, "ts", s.rec.SourceTimestamp)
				}
			}
			s.last = position{TS: s.rec.SourceTimestamp, Offset: offset, ID: s.rec.ID, Store: s.store}
			if err := s.handle(&s.rec); err != nil {
				return err
			}
		}
	}
	return nil
}

func closeRecord(r *protocol.Record) {
	if r.Key != nil {
		r.Key.Close()
	}
	if r.Value != nil {
		r.Value.Close()
	}
}

// handle turns one DTS record into events; a record that emits none
// leaves its position to a heartbeat.
func (s *source) handle(r *record) error {
	s.beat = true
	switch r.Operation {
	case "INSERT", "UPDATE", "DELETE":
		db, table := splitObject(r.ObjectName)
		name := db + "." + table
		if !s.tableIsWanted(name) {
			return nil
		}
		if s.cfg.txMeta && !s.tx.begun {
			s.tx.begun = true
			s.pending = append(s.pending, s.txRecord("BEGIN", r, "begin"))
		}
		s.tx.count++
		if s.tx.tables == nil {
			s.tx.tables = map[string]int{}
		}
		s.tx.tables[name]++
		rec, err := s.changeRecord(r, db, table, name)
		if err != nil {
			return api.Fatal(fmt.Errorf("dts source: record %d (%s): %w", r.ID, name, err))
		}
		s.pending = append(s.pending, rec)
		s.beat = false
	case "DDL":
		if rec, ok := s.ddlRecord(r); ok {
			s.pending = append(s.pending, rec)
			s.beat = false
		}
	case "BEGIN":
		s.tx = txState{id: r.SourceTxid, tables: s.tx.tables}
		clear(s.tx.tables)
	case "COMMIT", "ROLLBACK", "ABORT":
		if s.cfg.txMeta && s.tx.begun {
			s.pending = append(s.pending, s.txRecord("END", r, "end"))
			s.beat = false
		}
		s.tx = txState{tables: s.tx.tables}
		clear(s.tx.tables)
	}
	// HEARTBEAT, CHECKPOINT, FILL and the rest only move the position.
	return nil
}

func (s *source) tableIsWanted(name string) bool {
	w, ok := s.wanted[name]
	if !ok {
		w = s.cfg.tableWanted(name)
		if len(s.wanted) < 1<<16 {
			s.wanted[name] = w
		}
	}
	return w
}

func splitObject(o *string) (db, table string) {
	if o == nil {
		return "", ""
	}
	db, table, _ = strings.Cut(*o, ".")
	return db, table
}

// changeRecord renders a row change as mysql-cdc's change event.
func (s *source) changeRecord(r *record, db, table, name string) (api.Record, error) {
	fields, ok := r.Fields.([]field)
	if !ok {
		return api.Record{}, fmt.Errorf("%w: %s without fields", ErrMalformed, r.Operation)
	}
	op, typ := byte('c'), TypeInsert
	switch r.Operation {
	case "UPDATE":
		op, typ = 'u', TypeUpdate
	case "DELETE":
		op, typ = 'd', TypeDelete
	}
	d := kit.BeginEnvelope(256 + 32*len(fields))
	var err error
	if d, err = s.appendImageOf(d, fields, r.BeforeImages, op != 'c'); err != nil {
		return api.Record{}, fmt.Errorf("before image: %w", err)
	}
	d = append(d, `,"after":`...)
	if d, err = s.appendImageOf(d, fields, r.AfterImages, op != 'd'); err != nil {
		return api.Record{}, fmt.Errorf("after image: %w", err)
	}
	if s.cfg.txMeta {
		d = append(d, `,"transaction":{"id":`...)
		d = api.AppendJSONString(d, s.tx.id)
		d = append(d, `,"total_order":`...)
		d = strconv.AppendInt(d, int64(s.tx.count), 10)
		d = append(d, `,"data_collection_order":`...)
		d = strconv.AppendInt(d, int64(s.tx.tables[name]), 10)
		d = append(d, '}')
	}
	d = append(d, `,"source":`...)
	d = s.appendOrigin(d, r, db, table)
	d = kit.EndEnvelope(d, op, time.Now().UnixMilli())
	key, err := s.key(r, fields)
	if err != nil {
		return api.Record{}, err
	}
	return s.newRecord(r, typ, name, d, key, ""), nil
}

// appendImageOf appends an image, or null when the operation has none.
func (s *source) appendImageOf(d []byte, fields []field, img any, want bool) ([]byte, error) {
	vals, ok := img.([]any)
	if !want || img == nil {
		return append(d, "null"...), nil
	}
	if !ok {
		return nil, fmt.Errorf("%w: image as %T", ErrMalformed, img)
	}
	return appendImage(d, fields, vals)
}

// key renders the primary key as a JSON object when the record's tags
// name it (DTS's pk_uk_info tag, {"PRIMARY":["id",…]}); nil otherwise.
func (s *source) key(r *record, fields []field) ([]byte, error) {
	info := r.Tags["pk_uk_info"]
	if info == "" {
		return nil, nil
	}
	cols := primaryColumns(info)
	if len(cols) == 0 {
		return nil, nil
	}
	img, _ := r.AfterImages.([]any)
	if r.Operation == "DELETE" {
		img, _ = r.BeforeImages.([]any)
	}
	if len(img) != len(fields) {
		return nil, nil
	}
	b := append(make([]byte, 0, 32), '{')
	for i, c := range cols {
		j := -1
		for k := range fields {
			if fields[k].Name == c {
				j = k
				break
			}
		}
		if j < 0 {
			return nil, nil
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = api.AppendJSONString(b, c)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, fields[j].DataTypeNumber, img[j]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendOrigin appends the envelope's "source" block: Debezium's fields
// where DTS has them, and DTS's own (record id, offset, store,
// transaction, source position).
func (s *source) appendOrigin(b []byte, r *record, db, table string) []byte {
	b = append(b, `{"version":"ferry","connector":"dts","name":`...)
	b = api.AppendJSONString(b, s.tc.Connector)
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, recordMillis(r), 10)
	b = append(b, `,"snapshot":"false","db":`...)
	b = api.AppendJSONString(b, db)
	if table != "" {
		b = append(b, `,"table":`...)
		b = api.AppendJSONString(b, table)
	}
	b = append(b, `,"source_type":`...)
	b = api.AppendJSONString(b, r.Source.Type)
	b = append(b, `,"record_id":`...)
	b = strconv.AppendInt(b, r.ID, 10)
	b = append(b, `,"topic":`...)
	b = api.AppendJSONString(b, s.cfg.topic)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, s.last.Offset, 10)
	b = append(b, `,"txid":`...)
	b = api.AppendJSONString(b, r.SourceTxid)
	b = append(b, `,"position":`...)
	b = api.AppendJSONString(b, r.SourcePosition)
	return append(b, '}')
}

// recordMillis is the record's source time in milliseconds: bornTimestamp
// where the writer set it, else sourceTimestamp's seconds.
func recordMillis(r *record) int64 {
	if r.BornTimestamp != 0 {
		return r.BornTimestamp
	}
	return r.SourceTimestamp * 1000
}

// ddlRecord renders a DDL record as mysql-cdc's ddl event, unless its
// table is not emitted.
func (s *source) ddlRecord(r *record) (api.Record, bool) {
	stmt, _ := r.AfterImages.(string)
	db, table := splitObject(r.ObjectName)
	d := kit.ParseDDL(stmt, db)
	if d.Admin {
		return api.Record{}, false
	}
	if t := cmpOr(d.Table, table); t != "" {
		newName := ""
		if d.NewTable != "" {
			newName = d.DB + "." + d.NewTable
		}
		if !s.tableIsWanted(cmpOr(d.DB, db)+"."+t) && (newName == "" || !s.tableIsWanted(newName)) {
			return api.Record{}, false
		}
	}
	if !d.Parsed {
		s.tc.Warn("dts source: DDL not understood, emitted as an unparsed ddl event: "+truncate(stmt, 200), "db", db)
	}
	b := kit.BeginDDLEvent(make([]byte, 0, len(stmt)+384), stmt, d)
	b = append(b, `,"source":`...)
	b = s.appendOrigin(b, r, cmpOr(d.DB, db), cmpOr(d.Table, table))
	b = kit.EndDDLEvent(b, time.Now().UnixMilli())
	subject := cmpOr(d.DB, db)
	if t := cmpOr(d.Table, table); t != "" {
		subject += "." + t
	}
	return s.newRecord(r, TypeDDL, subject, b, nil, ""), true
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// txRecord is a BEGIN or END transaction event, as mysql-cdc writes them.
func (s *source) txRecord(status string, r *record, what string) api.Record {
	d := append([]byte(`{"status":"`+status+`","id":`), api.AppendJSONString(nil, s.tx.id)...)
	if status == "BEGIN" {
		d = append(d, `,"event_count":null,"data_collections":null`...)
	} else {
		d = append(d, `,"event_count":`...)
		d = strconv.AppendInt(d, int64(s.tx.count), 10)
		d = append(d, `,"data_collections":[`...)
		for i, t := range slices.Sorted(maps.Keys(s.tx.tables)) {
			if i > 0 {
				d = append(d, ',')
			}
			d = append(d, `{"data_collection":`...)
			d = api.AppendJSONString(d, t)
			d = append(d, `,"event_count":`...)
			d = strconv.AppendInt(d, int64(s.tx.tables[t]), 10)
			d = append(d, '}')
		}
		d = append(d, ']')
	}
	d = append(d, `,"ts_ms":`...)
	d = strconv.AppendInt(d, time.Now().UnixMilli(), 10)
	d = append(d, '}')
	return s.newRecord(r, TypeTx, s.tx.id, d, nil, ":"+what)
}

// primaryColumns reads DTS's pk_uk_info tag, {"PRIMARY":["id",…],…}:
// the primary key's columns, nil when it names none.
func primaryColumns(info string) []string {
	var keys map[string][]string
	if json.Unmarshal([]byte(info), &keys) != nil {
		return nil
	}
	return keys["PRIMARY"]
}

// newRecord wraps finished data as a record of this source at the last
// record's position. The id is the DTS record id (the same on every store
// and every replay); suffix tells events of one record apart.
func (s *source) newRecord(r *record, typ, subject string, data, key []byte, suffix string) api.Record {
	id := make([]byte, 0, len(s.idPrefix)+20+len(suffix))
	id = append(id, s.idPrefix...)
	id = strconv.AppendInt(id, r.ID, 10)
	id = append(id, suffix...)
	pos := s.last
	if suffix == ":begin" {
		// BEGIN comes before the transaction's first row, so its position
		// is the record before it: a restart there delivers the row, and
		// BEGIN again (ids are deterministic; sinks see a repeat).
		pos.ID--
	}
	rec := api.Record{
		Event: api.Event{
			ID:              string(id),
			Source:          s.evSource,
			SpecVersion:     api.SpecVersion,
			Type:            typ,
			Subject:         subject,
			Time:            time.UnixMilli(recordMillis(r)),
			DataContentType: "application/json",
			Data:            data,
		},
		Key:       key,
		Partition: s.partition,
		Position:  pos.encode(make([]byte, 0, 64+len(pos.Store))),
	}
	// Every event of this source is JSON rendered here, so sinks need not
	// validate it again (api.Event.MarkDataJSON).
	rec.Event.MarkDataJSON()
	return rec
}

// heartbeatRecord carries the last record's position when it emitted no
// event (a DTS heartbeat, a transaction boundary, a table not emitted),
// so the committed position moves on; the rds sink skips it.
func (s *source) heartbeatRecord() api.Record {
	pos := s.last.encode(make([]byte, 0, 64+len(s.last.Store)))
	d := append([]byte(`{"position":`), pos...)
	d = append(d, `,"ts_ms":`...)
	d = strconv.AppendInt(d, time.Now().UnixMilli(), 10)
	d = append(d, '}')
	return api.Record{
		Event: api.Event{
			ID:              "heartbeat:" + s.idPrefix + strconv.FormatInt(s.last.ID, 10),
			Source:          s.evSource,
			SpecVersion:     api.SpecVersion,
			Type:            TypeHeartbeat,
			Time:            time.Unix(s.last.TS, 0),
			DataContentType: "application/json",
			Data:            d,
		},
		Partition: s.partition,
		Position:  pos,
	}
}

func (s *source) Close(ctx context.Context) error {
	s.publish(ctx)
	s.leave(ctx)
	s.tr.CloseIdleConnections()
	return nil
}

// Committed implements api.CommitListener: the offset is published to
// the DTS consumer group (so DTS's console shows the group's progress) by
// the next publish.
func (s *source) Committed(positions map[string]api.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := positions[s.partition]; ok {
		s.toPublish = p
	}
}

// Lag implements api.LagReporter: records the subscription holds after
// the next offset to read, as of the last fetch.
func (s *source) Lag() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lagKnown {
		return nil
	}
	return map[string]int64{s.partition: s.lag}
}

// publish commits the last committed position to the consumer group: the
// next offset, with the record's timestamp as the commit's metadata (DTS's
// checkpoint). Only a position on the store being read is published. A
// failure is logged; Ferry's offset store is what the source resumes from.
func (s *source) publish(ctx context.Context) {
	s.mu.Lock()
	raw := s.toPublish
	s.toPublish = nil
	s.mu.Unlock()
	if raw == nil || s.member == "" {
		return
	}
	p, err := decodePosition(raw)
	if err != nil || p.Store != s.store {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := s.client.OffsetCommit(cctx, &kafkago.OffsetCommitRequest{
		Addr: s.addr, GroupID: s.cfg.sid, GenerationID: s.generation, MemberID: s.member,
		Topics: map[string][]kafkago.OffsetCommit{s.cfg.topic: {{Partition: 0, Offset: p.Offset + 1, Metadata: strconv.FormatInt(p.TS, 10)}}},
	})
	if err == nil {
		for _, ps := range resp.Topics {
			for _, pp := range ps {
				if pp.Error != nil {
					err = pp.Error
				}
			}
		}
	}
	if err != nil {
		s.log.Warn("dts source: cannot publish the committed position to the consumer group; will retry", "group", s.cfg.sid, "err", err)
		s.mu.Lock()
		if s.toPublish == nil {
			s.toPublish = raw
		}
		s.mu.Unlock()
	}
}
