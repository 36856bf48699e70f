package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/client"
)

func init() { rootCmd.AddCommand(newTransformsCmd()) }

func newTransformsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "transforms",
		Aliases: []string{"transform"},
		Short:   "Try transform chains on a running worker",
	}
	cmd.AddCommand(newPreviewCmd())
	return cmd
}

func newPreviewCmd() *cobra.Command {
	var chainPath, eventsPath string
	cmd := &cobra.Command{
		Use:   "preview -f CHAIN -e EVENTS.jsonl",
		Short: "Run events through a transform chain without creating a connector; exits non-zero when an event fails",
		Long: `Send the transform chain in CHAIN and the CloudEvents in EVENTS to the worker's
POST /transforms/preview and show what the chain makes of each event: the output,
the step that dropped it, or the error.

CHAIN is JSON or YAML: the chain's keys (transforms, predicates, transforms.<alias>.<field>,
predicates.<alias>.<field>) as a flat map, or a connector file {"name":..,"config":{..}},
whose other keys are ignored. Write JSON-valued settings such as a filter's pattern as
strings. EVENTS holds one structured-mode CloudEvent per line (JSON Lines; blank lines
are skipped) or one JSON array of them. Either file may be - for stdin, not both.`,
		Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, s *session, _ []string) error {
			if chainPath == "-" && eventsPath == "-" {
				return errors.New("only one of --file and --events can be - (stdin)")
			}
			config, err := readChainFile(chainPath, cmd.InOrStdin())
			if err != nil {
				return err
			}
			events, lines, err := readEventsFile(eventsPath, cmd.InOrStdin())
			if err != nil {
				return err
			}
			results, err := s.client.PreviewTransforms(cmd.Context(), config, events)
			if err != nil {
				return withEventLine(err, eventsPath, lines)
			}
			if err := s.print(func(w io.Writer) { printPreview(w, results) }); err != nil {
				return err
			}
			if n := failedCount(results); n > 0 {
				return fmt.Errorf("%d of %d event(s) failed in the chain", n, len(results))
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&chainPath, "file", "f", "", "transform chain, JSON or YAML (- for stdin)")
	cmd.Flags().StringVarP(&eventsPath, "events", "e", "", "CloudEvents, JSON Lines or a JSON array (- for stdin)")
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

// readChainFile reads a chain: a flat config map, or an object whose
// "config" holds it (a connector file; its name and initial_state are not
// the chain's and are ignored). Values are scalars, kept as written.
func readChainFile(path string, stdin io.Reader) (map[string]string, error) {
	doc, err := readDoc(path, stdin)
	if err != nil {
		return nil, err
	}
	return chainFromDoc(doc, path)
}

func chainFromDoc(doc any, path string) (map[string]string, error) {
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an object of transforms.* and predicates.* settings, or {\"config\": {..}}", path)
	}
	raw := top
	if c, has := top["config"]; has {
		m, ok := c.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: config must be an object", path)
		}
		for k := range top {
			if k != "config" && k != "name" && k != "initial_state" {
				return nil, fmt.Errorf("%s: unknown top-level key %q (want config, or a flat map of settings)", path, k)
			}
		}
		raw = m
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: key %q: want a string, number or boolean, got %s (write JSON-valued settings as a quoted string)", path, k, kindOf(v))
		}
		out[k] = s
	}
	return out, nil
}

// readEventsFile reads events as JSON Lines, or as one JSON array when the
// file starts with '['. lines[i] is the line event i starts on, for
// messages. Each event must be valid JSON; the worker checks the rest.
func readEventsFile(path string, stdin io.Reader) (events []json.RawMessage, lines []int, err error) {
	var data []byte
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, nil, err
	}
	events, lines, err = parseEvents(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return events, lines, nil
}

func parseEvents(data []byte) ([]json.RawMessage, []int, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var events []json.RawMessage
		if err := json.Unmarshal(trimmed, &events); err != nil {
			return nil, nil, fmt.Errorf("not a JSON array of events: %w", err)
		}
		return events, nil, nil
	}
	events := []json.RawMessage{}
	var lines []int
	n := 0
	for line := range bytes.Lines(data) {
		n++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return nil, nil, fmt.Errorf("line %d: not valid JSON (one event per line)", n)
		}
		events = append(events, json.RawMessage(line))
		lines = append(lines, n)
	}
	return events, lines, nil
}

var eventIndex = regexp.MustCompile(`^events\[(\d+)\]`)

// withEventLine adds the file line to a worker error that names an event
// by index ("events[2]: …"), which is what a person editing the file
// needs.
func withEventLine(err error, path string, lines []int) error {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return err
	}
	m := eventIndex.FindStringSubmatch(ce.Message)
	if m == nil {
		return err
	}
	i, _ := strconv.Atoi(m[1])
	if i >= len(lines) {
		return err
	}
	e := *ce
	e.Message = fmt.Sprintf("%s (%s line %d)", ce.Message, path, lines[i])
	return &e
}

func failedCount(results []client.PreviewResult) int {
	n := 0
	for _, r := range results {
		if r.Error != "" {
			n++
		}
	}
	return n
}

// printPreview shows one row per input event: the step that dropped it, or
// a summary of each output event (id, type, data), or the error.
func printPreview(w io.Writer, results []client.PreviewResult) {
	fmt.Fprintln(w, "EVENT\tDROPPED BY\tOUTPUT")
	kept, dropped := 0, 0
	for i, r := range results {
		switch {
		case r.Error != "":
			fmt.Fprintf(w, "%d\t-\terror: %s\n", i, oneLine(r.Error))
		case r.Dropped:
			dropped++
			fmt.Fprintf(w, "%d\t%s\t-\n", i, cmp(r.DroppedBy, "?"))
		case len(r.Events) == 0:
			kept++
			fmt.Fprintf(w, "%d\t-\t(no output)\n", i)
		default:
			kept++
			for j, ev := range r.Events {
				idx := strconv.Itoa(i)
				if j > 0 {
					idx = ""
				}
				fmt.Fprintf(w, "%s\t-\t%s\n", idx, eventSummary(ev))
			}
		}
	}
	fmt.Fprintf(w, "\n%d event(s): %d kept, %d dropped, %d failed\n", len(results), kept, dropped, len(results)-kept-dropped)
}

// summaryData is how much of an event's data a table row shows.
const summaryData = 120

// eventSummary reads "id=… type=… data=…" from a structured-mode event.
func eventSummary(raw json.RawMessage) string {
	var ev struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		Subject    string          `json:"subject"`
		Data       json.RawMessage `json:"data"`
		DataBase64 string          `json:"data_base64"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return oneLine(truncate(string(raw), summaryData))
	}
	s := "id=" + ev.ID + " type=" + ev.Type
	if ev.Subject != "" {
		s += " subject=" + ev.Subject
	}
	switch {
	case len(ev.Data) > 0:
		var buf bytes.Buffer
		if json.Compact(&buf, ev.Data) != nil {
			buf.Reset()
			buf.Write(ev.Data)
		}
		s += " data=" + truncate(buf.String(), summaryData)
	case ev.DataBase64 != "":
		s += fmt.Sprintf(" data_base64=(%d chars)", len(ev.DataBase64))
	}
	return oneLine(s)
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
