package sls

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/connectors/kit/alicloud"
)

// shardState is one owned shard.
type shardState struct {
	id       int
	name     string // partition name: <project>/<logstore>/<shard>
	readOnly bool
	next     position // where the next pull starts
	// end is the cursor of stop.time once it is known: pulls stop there.
	end string
	// drained: a read-only shard read to its end, or a shard read to
	// end; nothing more will come from it.
	drained bool
	// emitted: records were handed out since Open, the last at position
	// last, which must be committed before the shard is let go.
	emitted bool
	last    string
	// released: drained, checkpointed and no longer read.
	released bool
	// estGroup estimates the uncompressed bytes of one log group: the
	// largest of the last pull, or an eighth less than the estimate
	// before, whichever is more; 0 before the first pull.
	estGroup int
	// notBeforeAt: the shard was at its end; pull again at this time.
	notBeforeAt time.Time
	// idPrefix is "<project>-<logstore>-<shard>-", the start of every id.
	idPrefix string
}

// notBefore is when the shard may be pulled next: after its idle wait,
// and, near stop.time, only once the time is known to have passed (so
// stop.time's cursor is fixed).
func (sh *shardState) notBefore(stopTime int64) time.Time {
	at := sh.notBeforeAt
	if stopTime > 0 && sh.end == "" {
		stop := time.Unix(stopTime, 0)
		if time.Now().After(stop.Add(-clockMargin)) {
			at = later(at, stop.Add(clockMargin))
		}
	}
	return at
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// position is where to resume a shard: pull from cursor and skip the
// first skip logs (those of a log group read in part). Stored as the
// cursor, or <cursor>@<skip>; SLS cursors are base64, without '@'.
type position struct {
	cursor string
	skip   int
}

const maxCursorLen = 256

func parsePosition(p api.Position) (position, error) {
	s := string(p)
	cursor, skipText, hasSkip := strings.Cut(s, "@")
	if cursor == "" || len(cursor) > maxCursorLen || strings.ContainsFunc(cursor, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return position{}, fmt.Errorf("%q is not a cursor", alicloud.Truncate(s))
	}
	pos := position{cursor: cursor}
	if hasSkip {
		n, err := strconv.Atoi(skipText)
		if err != nil || n < 1 || n > 1<<30 || strconv.Itoa(n) != skipText {
			return position{}, fmt.Errorf("%q: the count after @ is not a positive number", alicloud.Truncate(s))
		}
		pos.skip = n
	}
	return pos, nil
}

func (p position) String() string {
	if p.skip == 0 {
		return p.cursor
	}
	return p.cursor + "@" + strconv.Itoa(p.skip)
}

// partitionName is a shard's name in Ferry (positions, metrics, lag).
func (s *source) partitionName(id int) string { return s.stream + "/" + strconv.Itoa(id) }

// shardOf reads a partition name of this logstore.
func (s *source) shardOf(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, s.stream+"/")
	if !ok {
		return 0, false
	}
	id, err := strconv.Atoi(rest)
	if err != nil || id < 0 || strconv.Itoa(id) != rest {
		return 0, false
	}
	return id, true
}

// refreshShards re-reads the shard list.
func (s *source) refreshShards(ctx context.Context) error {
	list, err := s.client.ListShards(s.project, s.logstore)
	if err != nil {
		return s.fail(ctx, "list shards", err)
	}
	return s.applyShards(ctx, list)
}

// applyShards takes the owned shards of a listing: new ones get their
// starting position, read-only ones are marked, vanished ones dropped;
// then each shard's lag is measured against its end.
func (s *source) applyShards(ctx context.Context, list []*aliyun.Shard) error {
	seen := map[int]bool{}
	var fresh []*shardState
	for _, l := range list {
		if !kit.Owns(s.tc.Task, s.tc.Tasks, s.stream, l.ShardID) || l.ShardID < 0 {
			continue
		}
		seen[l.ShardID] = true
		if sh := s.shards[l.ShardID]; sh != nil {
			if !sh.readOnly && l.Status == "readonly" {
				s.log.Info("sls source: shard turned read-only (split or merged); reading it to its end", "shard", sh.name)
			}
			sh.readOnly = l.Status == "readonly"
			continue
		}
		name := s.partitionName(l.ShardID)
		fresh = append(fresh, &shardState{
			id: l.ShardID, name: name, readOnly: l.Status == "readonly",
			idPrefix: s.project + "-" + s.logstore + "-" + strconv.Itoa(l.ShardID) + "-",
		})
	}
	for _, sh := range fresh {
		if err := s.position(ctx, sh); err != nil {
			return err
		}
		s.shards[sh.id] = sh
		if s.opened {
			s.log.Info("sls source: reading a new shard", "shard", sh.name, "from", sh.next.String())
		}
	}
	for id, sh := range s.shards {
		if !seen[id] {
			s.log.Info("sls source: shard gone from the logstore; no longer read", "shard", sh.name)
			delete(s.shards, id)
			s.DropLag(sh.name)
		}
	}
	s.order = s.order[:0]
	for _, sh := range s.shards {
		if !sh.released {
			s.order = append(s.order, sh)
		}
	}
	slices.SortFunc(s.order, func(a, b *shardState) int { return a.id - b.id })
	s.measureLag(ctx)
	s.refreshedAt = time.Now()
	s.nextRefresh = s.refreshedAt.Add(s.refresh)
	if s.stopTime > 0 {
		// The list read once stop.time has passed is the one a backfill
		// finishes on: read it then, not a refresh interval later.
		if at := time.Unix(s.stopTime, 0).Add(clockMargin); s.refreshedAt.Before(at) && at.Before(s.nextRefresh) {
			s.nextRefresh = at
		}
	}
	return nil
}

// position sets where a shard without one starts: the offset store's
// position, else the consumer group's checkpoint, else (first run, at
// Open) start, else the shard's beginning.
func (s *source) position(ctx context.Context, sh *shardState) error {
	if p, ok := s.committed[sh.name]; ok {
		sh.next = p
		return nil
	}
	if cp, ok := s.checkpoints[sh.id]; ok {
		sh.next = position{cursor: cp}
		return nil
	}
	from := "begin"
	if s.firstRun && !s.opened {
		from = s.start.from()
	}
	cursor, err := s.client.GetCursor(s.project, s.logstore, sh.id, from)
	if err != nil {
		return s.fail(ctx, fmt.Sprintf("get the %s cursor of shard %d", from, sh.id), err)
	}
	sh.next = position{cursor: cursor}
	return nil
}

// measureLag asks each owned, unfinished shard for its end cursor; with
// SLS's numeric cursors the difference is the lag in log groups.
// Failures only leave the figure as it was.
func (s *source) measureLag(ctx context.Context) {
	for _, sh := range s.order {
		if sh.drained || ctx.Err() != nil {
			continue
		}
		end, err := s.client.GetCursor(s.project, s.logstore, sh.id, "end")
		if err != nil {
			continue
		}
		e, ok1 := cursorSeq(end)
		n, ok2 := cursorSeq(sh.next.cursor)
		if ok1 && ok2 {
			s.SetLag(sh.name, e-n)
		}
	}
}

// cursorSeq reads a cursor as SLS makes them: base64 of a decimal number,
// consecutive for consecutive log groups (the SDK relies on it too, to
// number the log groups of an answer).
func cursorSeq(c string) (int64, bool) {
	var buf [32]byte
	if base64.StdEncoding.DecodedLen(len(c)) > len(buf) {
		return 0, false
	}
	n, err := base64.StdEncoding.Decode(buf[:], []byte(c))
	if err != nil || n == 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(buf[:n]), 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

func seqCursor(v int64) string {
	var buf [20]byte
	return base64.StdEncoding.EncodeToString(strconv.AppendInt(buf[:0], v, 10))
}

// pullShard asks SLS for the next log groups of sh and, when there are
// some, makes them the current answer for events to turn into records.
func (s *source) pullShard(ctx context.Context, sh *shardState) error {
	if s.stopTime > 0 && sh.end == "" && !time.Now().Before(time.Unix(s.stopTime, 0).Add(clockMargin)) {
		end, err := s.client.GetCursor(s.project, s.logstore, sh.id, strconv.FormatInt(s.stopTime, 10))
		if err != nil {
			return s.fail(ctx, fmt.Sprintf("get the stop.time cursor of shard %d", sh.id), err)
		}
		sh.end = end
	}
	if sh.end != "" && sh.next.cursor == sh.end {
		s.drain(sh, "reached stop.time")
		return nil
	}
	count := s.fetchN
	if sh.estGroup > 0 {
		count = max(1, min(count, s.fetchMax/sh.estGroup))
	} else if count > 1 {
		count = 1 // the first pull measures the log groups' size
	}
	raw, meta, err := s.client.GetLogsBytesWithQuery(&aliyun.PullLogRequest{
		Project: s.project, Logstore: s.logstore, ShardID: sh.id,
		Cursor: sh.next.cursor, EndCursor: sh.end, LogGroupMaxCount: count,
		CompressType: aliyun.Compress_LZ4, Query: s.query,
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if s.query != "" && sourceCode(err) == "ParameterInvalid" {
			return api.Fatal(fmt.Errorf("sls source: source.query %q refused by SLS: %w", alicloud.Truncate(s.query), err))
		}
		if sourceCode(err) == "InvalidCursor" {
			return s.invalidCursor(ctx, sh, err)
		}
		return s.fail(ctx, fmt.Sprintf("pull shard %d", sh.id), err)
	}
	if meta.Count == 0 {
		s.SetLag(sh.name, 0)
		switch {
		case sh.end != "" && (meta.NextCursor == sh.end || meta.NextCursor == sh.next.cursor && sh.readOnly):
			s.drain(sh, "reached stop.time")
		case sh.readOnly && meta.NextCursor == sh.next.cursor:
			s.drain(sh, "read-only and read to its end")
		default:
			if meta.NextCursor != "" && meta.NextCursor != sh.next.cursor {
				sh.next = position{cursor: meta.NextCursor} // empty groups skipped
			}
			sh.notBeforeAt = time.Now().Add(s.idle)
		}
		return nil
	}
	sh.estGroup = max(largestGroup(raw), sh.estGroup*7/8)
	if meta.Count < count {
		s.SetLag(sh.name, 0)
	}
	p := &pull{shard: sh, rest: raw, req: sh.next, next: meta.NextCursor, groups: meta.Count, gi: -1}
	if base, ok := cursorSeq(sh.next.cursor); ok {
		if nx, ok := cursorSeq(meta.NextCursor); ok && nx == base+int64(meta.Count) {
			p.numbered, p.base = true, base
		}
	}
	p.skip = sh.next.skip
	sh.next = position{cursor: meta.NextCursor}
	s.cur = p
	return nil
}

// drain marks a shard as done: nothing more will come from it.
func (s *source) drain(sh *shardState, why string) {
	if sh.drained {
		return
	}
	sh.drained = true
	s.SetLag(sh.name, 0)
	s.log.Info("sls source: shard finished", "shard", sh.name, "why", why, "at", sh.next.String())
}

// invalidCursor handles SLS refusing a shard's position: a cursor older
// than the shard's first log group (its logs expired with the logstore's
// TTL) moves to the beginning with a warning; any other fails the task.
func (s *source) invalidCursor(ctx context.Context, sh *shardState, cause error) error {
	begin, err := s.client.GetCursor(s.project, s.logstore, sh.id, "begin")
	if err != nil {
		return s.fail(ctx, fmt.Sprintf("get the begin cursor of shard %d", sh.id), err)
	}
	b, ok1 := cursorSeq(begin)
	n, ok2 := cursorSeq(sh.next.cursor)
	if ok1 && ok2 && n < b {
		s.tc.Warn("sls source: logs expired (the logstore's TTL) before they were read; continuing at the shard's beginning",
			"shard", sh.name, "from", sh.next.String(), "to", begin)
		sh.next = position{cursor: begin}
		return nil
	}
	return api.Fatal(fmt.Errorf("sls source: shard %s: SLS refuses position %s (was the logstore re-created?); reset the connector's offsets: %w", sh.name, sh.next, cause))
}

// release lets go of drained read-only shards once the position of the
// last event read from them is committed and written to the consumer
// group as its checkpoint: a shard is never given up with its checkpoint
// behind (the consumer library's duplicate reads after a split).
func (s *source) release() {
	now := time.Now()
	for _, sh := range s.order {
		if !sh.drained || !sh.readOnly || (s.cur != nil && s.cur.shard == sh) || now.Before(sh.notBeforeAt) {
			continue
		}
		if sh.emitted {
			s.mu.Lock()
			acked := s.acked[sh.name]
			s.mu.Unlock()
			if acked != sh.last {
				continue // not committed yet
			}
		}
		if err := s.checkpoint(sh.id, sh.next.cursor); err != nil {
			s.log.Warn("sls source: cannot write a drained shard's checkpoint; keeping the shard until it is written", "shard", sh.name, "err", err)
			sh.notBeforeAt = now.Add(time.Second)
			continue
		}
		sh.released = true
		s.log.Info("sls source: drained read-only shard released", "shard", sh.name, "checkpoint", sh.next.cursor)
		s.Forget(sh.name)
	}
	s.order = slices.DeleteFunc(s.order, func(sh *shardState) bool { return sh.released })
}

// largestGroup returns the size of the largest log group of an answer
// (0 if it is malformed: decoding will say so).
func largestGroup(list []byte) int {
	n := 0
	for {
		g, rest, ok, err := nextGroup(list)
		if !ok || err != nil {
			return n
		}
		n = max(n, len(g))
		list = rest
	}
}
