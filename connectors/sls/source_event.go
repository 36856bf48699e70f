package sls

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
)

// pull is one PullLogs answer being turned into records, a batch at a
// time.
type pull struct {
	shard *shardState
	rest  []byte   // LogGroupList bytes not yet read
	req   position // where the pull started
	next  string   // the cursor after the answer
	// groups is how many log groups the answer holds (x-log-count).
	groups int
	// numbered: the cursors are SLS's consecutive numbers, so each log
	// group's own cursor is base + its index; otherwise every log is
	// placed relative to the pull's cursor.
	numbered bool
	base     int64
	skip     int // logs still to skip: read before a restart

	g       groupView
	gi      int    // index of the current group; -1 before the first
	li      int    // next log of the current group
	cum     int    // logs of the answer before the next one
	gCursor string // the current group's cursor
	last    bool   // the current group is the answer's last
	l       logView
}

// reserved are the keys the source sets in data; a log's own key or a tag
// of the same name gives way.
var reserved = []string{"__topic__", "__source__", "__time__", "__time_ns_part__", "__shard__", "__cursor__"}

func isReserved(k []byte) bool {
	if len(k) < 4 || k[0] != '_' || k[1] != '_' {
		return false
	}
	for _, r := range reserved {
		if str(k) == r {
			return true
		}
	}
	return false
}

// batchBufs are a batch's ids, data and positions, built in three
// buffers and cut into the records at the end: three allocations a batch
// rather than three a record.
type batchBufs struct {
	ids               strings.Builder
	data, pos         []byte
	idEnd, dEnd, pEnd []int
	// sizes of the last batch's buffers, to size the next one's
	lastData, lastPos, lastIDs int
}

func (b *batchBufs) begin(n int) {
	b.ids = strings.Builder{}
	b.ids.Grow(max(b.lastIDs, 1024))
	b.data = make([]byte, 0, max(b.lastData, 4096))
	b.pos = make([]byte, 0, max(b.lastPos, 1024))
	b.idEnd, b.dEnd, b.pEnd = b.idEnd[:0], b.dEnd[:0], b.pEnd[:0]
}

// finish cuts the buffers into recs' ids, data and positions.
func (b *batchBufs) finish(recs []api.Record) {
	ids := b.ids.String()
	var i0, d0, p0 int
	for k := range recs {
		i1, d1, p1 := b.idEnd[k], b.dEnd[k], b.pEnd[k]
		recs[k].Event.ID = ids[i0:i1]
		recs[k].Event.Data = b.data[d0:d1:d1]
		recs[k].Position = b.pos[p0:p1:p1]
		i0, d0, p0 = i1, d1, p1
	}
	b.lastData, b.lastPos, b.lastIDs = len(b.data), len(b.pos), len(ids)
}

// events turns up to batch.size logs of the current answer into records;
// at the answer's end it clears s.cur.
func (s *source) events() ([]api.Record, error) {
	p := s.cur
	sh := p.shard
	recs := make([]api.Record, 0, min(s.batch, max(p.groups, 64)))
	b := &s.bufs
	b.begin(cap(recs))
	for len(recs) < s.batch {
		if p.gi < 0 || p.li >= len(p.g.logs) {
			group, rest, ok, err := nextGroup(p.rest)
			if err == nil && ok {
				err = decodeGroup(group, &p.g)
			}
			if err != nil {
				s.cur = nil
				return nil, api.Fatal(fmt.Errorf("sls source: shard %s at %s: %w", sh.name, p.req, err))
			}
			if !ok {
				s.cur = nil
				break
			}
			p.rest, p.last = rest, len(rest) == 0
			p.gi++
			p.li = 0
			if p.numbered {
				p.gCursor = seqCursor(p.base + int64(p.gi))
			}
			continue
		}
		i := p.li
		p.li++
		p.cum++
		if p.skip > 0 {
			p.skip--
			continue
		}
		if err := decodeLog(p.g.logs[i], &p.l); err != nil {
			s.cur = nil
			return nil, api.Fatal(fmt.Errorf("sls source: shard %s at %s: %w", sh.name, p.req, err))
		}
		recs = append(recs, s.record(p, i))
	}
	if p.last && p.li >= len(p.g.logs) {
		s.cur = nil
	}
	b.finish(recs)
	if n := len(recs); n > 0 {
		sh.emitted = true
		sh.last = string(recs[n-1].Position)
	}
	return recs, nil
}

// record makes the record of log i of the current group, its id, data and
// position appended to the batch's buffers.
func (s *source) record(p *pull, i int) api.Record {
	sh := p.shard
	b := &s.bufs
	l := &p.l
	cursor, index := p.gCursor, i
	if !p.numbered {
		cursor, index = p.req.cursor, p.cum-1
	}

	var num [20]byte
	b.ids.WriteString(sh.idPrefix)
	b.ids.WriteString(cursor)
	b.ids.WriteByte('-')
	b.ids.Write(strconv.AppendInt(num[:0], int64(index), 10))
	b.idEnd = append(b.idEnd, b.ids.Len())

	b.data = s.appendData(b.data, p, cursor)
	b.dEnd = append(b.dEnd, len(b.data))

	// The position after this log: the next group's cursor after a
	// group's last log, else this group (or the pull) and how many of its
	// logs are read.
	switch {
	case i == len(p.g.logs)-1 && p.last:
		b.pos = append(b.pos, p.next...)
	case i == len(p.g.logs)-1 && p.numbered:
		b.pos = append(b.pos, seqCursor(p.base+int64(p.gi)+1)...)
	default:
		b.pos = append(b.pos, cursor...)
		b.pos = append(b.pos, '@')
		b.pos = strconv.AppendInt(b.pos, int64(index+1), 10)
	}
	b.pEnd = append(b.pEnd, len(b.pos))

	t := time.Unix(int64(l.time), int64(l.timeNs)).UTC()
	return api.Record{
		Event: api.Event{
			Source:          s.evSource,
			SpecVersion:     api.SpecVersion,
			Type:            EventType,
			Subject:         s.subject,
			Time:            t,
			DataContentType: dataContentType,
		},
		Partition: sh.name,
	}
}

// appendData appends the event data of the current log: its keys, then
// the group's tags (__pack_id__, __client_ip__, __receive_time__, …)
// whose names no key of the log has, then __topic__, __source__,
// __time__ (unix seconds, and __time_ns_part__ when the log has
// nanoseconds), __shard__ and __cursor__ (its log group's). Every value is
// a string, as SLS stores it.
func (s *source) appendData(dst []byte, p *pull, cursor string) []byte {
	l, g := &p.l, &p.g
	dst = append(dst, '{')
	for _, c := range l.contents {
		if !isReserved(c.key) {
			dst = appendField(dst, str(c.key), str(c.value))
		}
	}
	for _, t := range g.tags {
		if isReserved(t.key) || hasKey(l.contents, t.key) {
			continue
		}
		dst = appendField(dst, str(t.key), str(t.value))
	}
	dst = appendField(dst, "__topic__", str(g.topic))
	dst = appendField(dst, "__source__", str(g.source))
	var num [20]byte
	dst = appendField(dst, "__time__", str(strconv.AppendUint(num[:0], uint64(l.time), 10)))
	if l.hasNs {
		dst = appendField(dst, "__time_ns_part__", str(strconv.AppendUint(num[:0], uint64(l.timeNs), 10)))
	}
	dst = appendField(dst, "__shard__", str(strconv.AppendInt(num[:0], int64(p.shard.id), 10)))
	dst = appendField(dst, "__cursor__", cursor)
	return append(dst, '}')
}

// appendField appends "k":"v" to an object being written, after a comma
// unless it is the first member.
func appendField(dst []byte, k, v string) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = api.AppendJSONEscaped(dst, k)
	dst = append(dst, '"', ':', '"')
	dst = api.AppendJSONEscaped(dst, v)
	return append(dst, '"')
}

func hasKey(ps []kv, k []byte) bool {
	for _, p := range ps {
		if str(p.key) == str(k) {
			return true
		}
	}
	return false
}
