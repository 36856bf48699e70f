package cluster_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/worker/cluster"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/*.txt")

// The scenario files are a small datadriven format. A block is one or more
// command lines, a line "----", and the expected output up to a blank line;
// lines starting with '#' between blocks are comments. After each block's
// commands Assign runs once, with the previous block's assignment as prev.
//
// Commands:
//
//	workers a b c      the live workers, replacing any (start order as listed)
//	join d e           more live workers, started after the others
//	leave b            b is gone (crashed or left)
//	drain a / undrain a
//	away b / back b    b departed but is within its grace period / is back
//	tasks c1:3 c2:1    the task list, replacing any (connector:count)
//	set c3:2           add or resize one connector; "set c3:0" deletes it
//	assign             nothing changes; assign again
//
// The output shows the generation, the number of tasks relocated (taken
// from one worker, given to another) against the least possible, the
// leader, each worker's tasks with the generation they were placed at, the
// moves and the unassigned tasks.
type scenario struct {
	workers []cluster.Worker
	conns   map[string]int
	prev    cluster.Assignment
	clock   int
}

func (s *scenario) worker(id string) *cluster.Worker {
	for i := range s.workers {
		if s.workers[i].ID == id {
			return &s.workers[i]
		}
	}
	return nil
}

func (s *scenario) tasks() []cluster.TaskID {
	var out []cluster.TaskID
	for c, n := range s.conns {
		for i := range n {
			out = append(out, cluster.TaskID{Connector: c, Task: i})
		}
	}
	return out
}

func (s *scenario) apply(line string) error {
	f := strings.Fields(line)
	cmd, args := f[0], f[1:]
	start := func() time.Time {
		s.clock++
		return time.Unix(int64(s.clock), 0)
	}
	each := func(fn func(w *cluster.Worker)) error {
		for _, id := range args {
			w := s.worker(id)
			if w == nil {
				return fmt.Errorf("no worker %q", id)
			}
			fn(w)
		}
		return nil
	}
	switch cmd {
	case "workers":
		s.workers = nil
		fallthrough
	case "join":
		for _, id := range args {
			s.workers = append(s.workers, cluster.Worker{ID: id, Start: start()})
		}
	case "leave":
		for _, id := range args {
			s.workers = slices.DeleteFunc(s.workers, func(w cluster.Worker) bool { return w.ID == id })
		}
	case "drain", "undrain":
		return each(func(w *cluster.Worker) { w.Draining = cmd == "drain" })
	case "away", "back":
		return each(func(w *cluster.Worker) { w.Away = cmd == "away" })
	case "tasks":
		s.conns = map[string]int{}
		fallthrough
	case "set":
		for _, a := range args {
			name, count, ok := strings.Cut(a, ":")
			n, err := strconv.Atoi(count)
			if !ok || err != nil {
				return fmt.Errorf("bad connector %q", a)
			}
			if s.conns == nil {
				s.conns = map[string]int{}
			}
			s.conns[name] = n
		}
	case "assign":
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	return nil
}

func (s *scenario) run() (string, error) {
	ideal := idealRelocations(s.workers, s.tasks(), s.prev)
	plan, err := cluster.Assign(s.workers, s.tasks(), s.prev)
	if err != nil {
		return "", err
	}
	s.prev = plan.Assignment
	var b strings.Builder
	leader, _ := cluster.Leader(s.workers)
	fmt.Fprintf(&b, "generation %d, relocated %d (least %d), leader %s\n",
		plan.Assignment.Generation, plan.Relocated(), ideal, leader)
	for _, w := range s.workers {
		fmt.Fprintf(&b, "%s", w.ID)
		if w.Draining {
			b.WriteString(" (draining)")
		}
		if w.Away {
			b.WriteString(" (away)")
		}
		slots := plan.Assignment.Workers[w.ID]
		fmt.Fprintf(&b, " [%d]:", len(slots))
		for _, sl := range slots {
			fmt.Fprintf(&b, " %s@%d", sl.TaskID, sl.Since)
		}
		b.WriteString("\n")
	}
	for _, m := range plan.Moves {
		fmt.Fprintf(&b, "move %s %s -> %s\n", m.Task, orDash(m.From), orDash(m.To))
	}
	if len(plan.Unassigned) > 0 {
		b.WriteString("unassigned:")
		for _, t := range plan.Unassigned {
			fmt.Fprintf(&b, " %s", t)
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type block struct {
	cmds []string
	want string
	pre  []string // comments and blank lines before the commands
}

func parseScenario(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []block
	var cur block
	inOutput := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inOutput && line == "":
			blocks = append(blocks, cur)
			cur, inOutput = block{}, false
		case inOutput:
			cur.want += line + "\n"
		case line == "----":
			inOutput = true
		case line == "" || strings.HasPrefix(line, "#"):
			if len(cur.cmds) > 0 {
				t.Fatalf("%s: comment inside a block's commands: %q", path, line)
			}
			cur.pre = append(cur.pre, line)
		default:
			cur.cmds = append(cur.cmds, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if inOutput || len(cur.cmds) > 0 {
		blocks = append(blocks, cur)
	}
	return blocks
}

func TestScenarios(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			blocks := parseScenario(t, path)
			var s scenario
			var out strings.Builder
			for i, bl := range blocks {
				for _, c := range bl.cmds {
					if err := s.apply(c); err != nil {
						t.Fatalf("block %d: %v", i+1, err)
					}
				}
				got, err := s.run()
				if err != nil {
					t.Fatalf("block %d: %v", i+1, err)
				}
				if !*update && got != bl.want {
					t.Errorf("block %d (%s):\ngot:\n%swant:\n%s", i+1, strings.Join(bl.cmds, "; "), got, bl.want)
				}
				for _, p := range bl.pre {
					out.WriteString(p + "\n")
				}
				out.WriteString(strings.Join(bl.cmds, "\n") + "\n----\n" + got + "\n")
			}
			if *update {
				if err := os.WriteFile(path, []byte(strings.TrimSuffix(out.String(), "\n")), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
