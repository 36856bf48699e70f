package generator

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ferryhq/ferry/api"
)

// Type is the CloudEvents type of every generated event.
const Type = "ferry.generator.v1"

// Source is the generator source plugin.
var Source = api.SourcePlugin{
	Name:    "generator",
	Summary: "Synthetic CloudEvents with deterministic ids, for demos, tests and benchmarks.",
	Spec:    spec,
	New:     newSource,
}

var spec = api.Spec{
	{Name: "count", Type: api.TypeInt, Default: "0", Check: api.Range(0, 1<<62),
		Description: "Events per task; after them Read returns end of input. 0 means endless."},
	{Name: "rate", Type: api.TypeFloat, Default: "0", Check: api.Range(0, 1e9),
		Description: "Events per second per task; 0 means as fast as possible."},
	{Name: "payload.bytes", Type: api.TypeInt, Default: "64", Check: api.Range(0, 64<<20),
		Description: "Approximate size of each event's data in bytes."},
	{Name: "batch.size", Type: api.TypeInt, Default: "1024", Check: api.Range(1, 1<<20),
		Description: "Most records returned by one Read."},
}

// dataOverhead is the length of the JSON around the payload for small
// numbers: {"seq":0,"task":0,"payload":""}.
const dataOverhead = len(`{"seq":0,"task":0,"payload":""}`)

type source struct {
	count     uint64 // 0 = endless
	rate      float64
	batch     int
	task      int
	partition string
	evSource  string
	idPrefix  string // "<connector>-<task>-"
	dataHead  string // `{"seq":`
	dataTail  []byte // `,"task":T,"payload":"…"}`, shared read-only while building
	next      uint64 // seq of the next event

	// Pacing: events emitted since paceStart.
	paceStart time.Time
	emitted   uint64
}

func newSource(tc api.TaskConfig) (api.Source, error) {
	c := tc.Config
	s := &source{
		count:     uint64(c.Int("count")),
		rate:      c.Float("rate"),
		batch:     c.Int("batch.size"),
		task:      tc.Task,
		partition: "task-" + strconv.Itoa(tc.Task),
		evSource:  "/ferry/generator/" + tc.Connector,
		idPrefix:  tc.Connector + "-" + strconv.Itoa(tc.Task) + "-",
		dataHead:  `{"seq":`,
	}
	if s.batch <= 0 {
		s.batch = 1024
	}
	payload := max(c.Int("payload.bytes")-dataOverhead, 0)
	tail := make([]byte, 0, 32+payload)
	tail = append(tail, `,"task":`...)
	tail = strconv.AppendInt(tail, int64(tc.Task), 10)
	tail = append(tail, `,"payload":"`...)
	for i := range payload {
		tail = append(tail, 'a'+byte(i%26))
	}
	s.dataTail = append(tail, `"}`...)
	if pos, ok := tc.Committed[s.partition]; ok {
		seq, err := strconv.ParseUint(string(pos), 10, 64)
		if err != nil {
			return nil, api.Fatal(fmt.Errorf("%w: partition %q, position %q", errBadPosition, s.partition, pos))
		}
		s.next = seq + 1
	}
	return s, nil
}

func (s *source) Open(ctx context.Context) error {
	s.paceStart = time.Now()
	s.emitted = 0
	return nil
}

func (s *source) Close(ctx context.Context) error { return nil }

func (s *source) Read(ctx context.Context) ([]api.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := uint64(s.batch)
	if s.count > 0 {
		if s.next >= s.count {
			return nil, api.ErrEndOfInput
		}
		n = min(n, s.count-s.next)
	}
	if s.rate > 0 {
		var err error
		if n, err = s.pace(ctx, n); err != nil {
			return nil, err
		}
	}
	return s.build(int(n), time.Now()), nil
}

// pace waits until at least one event is due under the configured rate
// and returns how many of want may be emitted now.
func (s *source) pace(ctx context.Context, want uint64) (uint64, error) {
	for {
		elapsed := time.Since(s.paceStart)
		// The first event is due at once, the k-th (from 0) at k/rate.
		due := uint64(elapsed.Seconds()*s.rate) + 1
		if due > s.emitted {
			n := min(want, due-s.emitted)
			s.emitted += n
			return n, nil
		}
		at := time.Duration(float64(s.emitted) / s.rate * float64(time.Second))
		t := time.NewTimer(at - elapsed)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// build makes n records starting at s.next. Per batch it allocates one
// slab for every record's data and position, one string for every id and
// the record slice itself.
func (s *source) build(n int, now time.Time) []api.Record {
	const maxDigits = 20
	slab := make([]byte, 0, n*(len(s.dataHead)+len(s.dataTail)+2*maxDigits))
	idBuf := make([]byte, 0, n*(len(s.idPrefix)+maxDigits))
	idEnds := make([]int, n)
	recs := make([]api.Record, n)
	for i := range recs {
		seq := s.next + uint64(i)
		start := len(slab)
		slab = append(slab, s.dataHead...)
		slab = strconv.AppendUint(slab, seq, 10)
		slab = append(slab, s.dataTail...)
		dataEnd := len(slab)
		slab = strconv.AppendUint(slab, seq, 10)
		posEnd := len(slab)

		idBuf = append(idBuf, s.idPrefix...)
		idBuf = strconv.AppendUint(idBuf, seq, 10)
		idEnds[i] = len(idBuf)

		r := &recs[i]
		// Three-index slices cap each part at its own end, so an append
		// by a transform reallocates instead of overwriting a neighbour.
		r.Event.Data = slab[start:dataEnd:dataEnd]
		r.Position = slab[dataEnd:posEnd:posEnd]
		r.Event.Source = s.evSource
		r.Event.SpecVersion = api.SpecVersion
		r.Event.Type = Type
		r.Event.Time = now
		r.Event.DataContentType = "application/json"
		r.Partition = s.partition
	}
	ids := string(idBuf)
	start := 0
	for i := range recs {
		recs[i].Event.ID = ids[start:idEnds[i]]
		start = idEnds[i]
	}
	s.next += uint64(n)
	return recs
}
