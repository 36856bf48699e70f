package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/ferryhq/ferry/api"
)

// chainLoop runs the transform chain over every batch from in and hands
// the survivors to the writer, until in closes or a record fails with
// tolerance none (the error is returned).
func (t *Task) chainLoop(ctx context.Context, in <-chan *batch, out chan<- *batch, writerDone <-chan struct{}) error {
	for b := range in {
		if b.chained {
			select {
			case out <- b:
			case <-writerDone:
				return nil
			}
			continue
		}
		kept, err := t.transform(ctx, b, t.cfg.Transforms)
		if kept != nil {
			select {
			case out <- kept:
			case <-writerDone:
				return nil
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// transform runs the chain over a tracked batch. Filtered and rejected
// records are acknowledged at once. It returns the survivors (nil when
// none) and a fatal error if a record failed with tolerance none;
// survivors before the failure are still returned so their positions can
// be committed.
func (t *Task) transform(ctx context.Context, b *batch, chain []NamedTransform) (*batch, error) {
	c := chainRun{t: t, ctx: ctx, recs: b.recs, metas: b.metas, orig: b.orig, chain: chain, step: -1}
	for c.i < len(c.recs) && c.fatal == nil {
		c.run()
	}
	recs, metas, kept := c.recs, c.metas, c.kept
	clear(recs[kept:])
	if b.orig != nil {
		clear(b.orig[kept:])
		b.orig = b.orig[:kept]
	}
	t.m.write.Add(int64(kept))
	if len(c.done) > 0 {
		t.ackMetas(ctx, c.done, false)
	}
	if c.done != nil {
		t.putMetas(c.done)
	}
	if kept == 0 {
		t.putMetas(metas)
		return nil, c.fatal
	}
	b.recs, b.metas = recs[:kept], metas[:kept]
	return b, c.fatal
}

// chainQueue is how many batches wait for the chain stage. With the
// reader helping (Config.NewChain) on two cores, generator → filter +
// template → drop, paired rounds of BenchmarkChain: with a queue of 2 the
// chain stage's core idled ~6% of the time and the chain cost +14–23% in
// five sets; 4 cost 4–12 points less in the same sets; 8 did worse than 4
// (docs/benchmarks.md). The in-flight budget, not this, bounds memory.
const chainQueue = 4

// chainRun is one pass of the chain over a batch. A transform's panic
// fails the record it met, like an error; one deferred recover per pass
// catches it, where one per Apply cost a cheap transform about a tenth of
// its time.
type chainRun struct {
	t     *Task
	ctx   context.Context
	recs  []api.Record
	metas []recMeta
	orig  []api.Record // nil unless the task keeps originals
	chain []NamedTransform
	i     int       // the record at hand
	step  int       // the transform applying to it, or -1 outside Apply
	kept  int       // survivors, packed at the front
	done  []recMeta // settled without a write (filtered, dead-lettered): from the task's pool
	fatal error     // a failure with tolerance none: records from it on are dropped unacknowledged
}

// run applies the chain to the records from c.i on, until the batch ends,
// a record fails fatally, or a transform panics; after a panic the record
// is settled as failed and run returns, to be called again for the rest.
// A panic outside Apply (a dead-letter sink's, say) is not recovered.
func (c *chainRun) run() {
	defer func() {
		if c.step < 0 {
			return
		}
		p := recover()
		name := c.chain[c.step].Name
		c.step = -1
		c.settle(false, name, api.Fatal(fmt.Errorf("transform panicked: %v", p)))
		c.i++
	}()
	for ; c.i < len(c.recs) && c.fatal == nil; c.i++ {
		r := &c.recs[c.i]
		keep, name := true, ""
		var err error
		if a := c.metas[c.i].tr; a != nil {
			keep, name, err = c.applyTraced(r, a)
		} else {
			for c.step = 0; c.step < len(c.chain); c.step++ {
				tr := &c.chain[c.step]
				if keep, err = tr.Transform.Apply(r); err != nil || !keep {
					name = tr.Name
					break
				}
			}
		}
		c.step = -1
		c.settle(keep, name, err)
	}
}

// settled books record c.i as done without a write.
func (c *chainRun) settled() {
	if c.done == nil {
		c.done = c.t.getMetas(len(c.recs) - c.i)[:0]
	}
	c.done = append(c.done, c.metas[c.i])
}

// settle books record c.i's outcome: a failure goes through reject (the
// dead-letter sink, or a fatal error with tolerance none), a filtered
// record is acknowledged, a survivor is packed.
func (c *chainRun) settle(keep bool, name string, err error) {
	switch {
	case err != nil:
		f := failure{rec: &c.recs[c.i], orig: c.original(c.i), meta: &c.metas[c.i], stage: "transform " + name, transform: name, code: CodeTransformFailed, err: err}
		if rerr := c.t.reject(c.ctx, f); rerr != nil {
			c.fatal = rerr
			return
		}
		c.settled()
	case !keep:
		c.t.m.filtered.Add(1)
		if a := c.metas[c.i].tr; a != nil {
			a.Drop(time.Now())
		}
		c.settled()
	default:
		if c.kept != c.i { // compact in place; skip self-copies (write barriers)
			c.recs[c.kept], c.metas[c.kept] = c.recs[c.i], c.metas[c.i]
			if c.orig != nil {
				c.orig[c.kept] = c.orig[c.i]
			}
		}
		c.kept++
	}
}
