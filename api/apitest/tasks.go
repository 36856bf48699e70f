package apitest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
)

// taskPoll bounds each Read of the partition-coverage check, so one task
// with nothing to read does not hold up the others.
const taskPoll = time.Second

// sourceTasks opens c.Tasks tasks of the source side by side and reads
// from them in turn until they have, between them, read every partition
// the single-task read saw (ref) and at least Expect records. Every
// partition must be read by exactly one task: none by two (records read
// twice), none by none (records never read).
func sourceTasks(t *testing.T, c SourceCase, ref []api.Record) {
	want := map[string]bool{}
	for _, r := range ref {
		want[r.Partition] = true
	}
	srcs := make([]api.Source, c.Tasks)
	for i := range srcs {
		srcs[i] = openSourceTask(t, c, i, c.Tasks, nil)
	}
	defer func() {
		for _, src := range srcs {
			closeSource(t, src)
		}
	}()
	owners := map[string][]int{} // partition → the tasks that read it
	done := make([]bool, len(srcs))
	total := 0
	deadline := time.Now().Add(readTimeout)
	for !covered(owners, want) || total < c.Expect {
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d tasks had read %d records of partitions %v; the single task read %v",
				readTimeout, c.Tasks, total, sortedKeys(owners), sortedKeys(want))
		}
		progress := false
		for i, src := range srcs {
			if done[i] {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), taskPoll)
			batch, err := src.Read(ctx)
			cancel()
			switch {
			case errors.Is(err, api.ErrEndOfInput):
				done[i] = true
				continue
			case errors.Is(err, context.DeadlineExceeded), api.IsRetryable(err):
				continue
			case err != nil:
				t.Fatalf("task %d of %d: Read: %v", i, c.Tasks, err)
			}
			checkRecords(t, batch)
			ack(t, src, batch)
			total += len(batch)
			progress = progress || len(batch) > 0
			for _, r := range batch {
				if !slices.Contains(owners[r.Partition], i) {
					owners[r.Partition] = append(owners[r.Partition], i)
				}
			}
		}
		if !progress && allDone(done) {
			break
		}
	}
	for p, tasks := range owners {
		if len(tasks) > 1 {
			t.Errorf("partition %q was read by tasks %v of %d: each partition belongs to exactly one task", p, tasks, c.Tasks)
		}
	}
	for p := range want {
		if len(owners[p]) == 0 {
			t.Errorf("partition %q, which one task reads, was read by none of %d tasks", p, c.Tasks)
		}
	}
}

func covered(owners map[string][]int, want map[string]bool) bool {
	for p := range want {
		if len(owners[p]) == 0 {
			return false
		}
	}
	return true
}

func allDone(done []bool) bool {
	return !slices.Contains(done, false)
}

func sortedKeys[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return "[" + strings.Join(keys, " ") + "]"
}
