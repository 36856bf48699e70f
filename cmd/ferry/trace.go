package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/client"
	"github.com/ferryhq/ferry/runtime/trace"
)

// newTraceCmd is `ferry connectors trace NAME`: the connector's traced
// events, or with --follow its live tap.
func newTraceCmd() *cobra.Command {
	var (
		f       trace.Filter
		outcome string
		since   string
		follow  bool
	)
	cmd := &cobra.Command{
		Use:   "trace NAME",
		Short: "Show what became of a connector's recent events (sampled, and every failed one); --follow shows events live",
		Long: "Show the connector's traced events, newest first: each transform's decision, the sink's result and the time of each step. " +
			"Events are traced at the connector's trace.sample.rate, and every event that fails. " +
			"With --follow, print the events the connector's tasks finish as they pass, with the event after each stage that changed it, until interrupted; " +
			"a reader that falls behind loses events (the next one says how many), the pipeline never waits.",
		Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, s *session, args []string) error {
			ctx, name := cmd.Context(), args[0]
			if follow {
				return followTap(cmd, s, name)
			}
			var err error
			if f.Outcome, err = trace.ParseOutcome(outcome); err != nil {
				return err
			}
			if f.Since, err = parseSince(since, time.Now()); err != nil {
				return err
			}
			info, err := s.client.Traces(ctx, name, f)
			if err != nil {
				return err
			}
			return s.print(func(w io.Writer) {
				for _, tr := range info.Traces {
					printTrace(w, tr)
				}
				if len(info.Traces) == 0 {
					fmt.Fprintln(w, "no traced events match")
				}
				if len(info.Unreached) > 0 {
					fmt.Fprintf(w, "workers that did not answer (their traces are missing): %s\n", strings.Join(info.Unreached, ", "))
				}
			})
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.EventID, "event-id", "", "only this event's traces")
	fl.StringVar(&outcome, "outcome", "", "only events dropped, failed or delivered")
	fl.StringVar(&since, "since", "", "only events finished since this RFC 3339 time or this long ago (10m)")
	fl.IntVar(&f.Limit, "limit", 0, fmt.Sprintf("at most this many traces (default and most %d)", trace.MaxLimit))
	fl.BoolVar(&follow, "follow", false, "show the events passing through the connector live, until interrupted")
	return cmd
}

// parseSince reads --since: an RFC 3339 time or a duration back from now.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since wants an RFC 3339 time or a duration such as 10m, got %q", v)
}

// followTap prints the connector's tap until ctx ends, opening it again
// when the worker ends the stream (its request timeout).
func followTap(cmd *cobra.Command, s *session, name string) error {
	ctx := cmd.Context()
	enc := json.NewEncoder(s.out)
	show := func(ev trace.TapEvent) error {
		if s.json {
			return enc.Encode(ev)
		}
		printTapEvent(s.out, ev)
		return nil
	}
	for {
		err := s.client.Tap(ctx, name, show)
		if !errors.Is(err, client.ErrStreamEnded) {
			return err
		}
	}
}

// printTrace writes one trace: a head line, then a step a line with its
// time after the read.
func printTrace(w io.Writer, tr trace.Trace) {
	how := "sampled"
	if !tr.Sampled {
		how = "traced because it failed"
	}
	fmt.Fprintf(w, "%s  %s  task %d  partition %q  position %q  read %s  (%s)\n",
		tr.EventID, strings.ToUpper(string(tr.Outcome)), tr.Task, tr.Partition, tr.Position, tr.Read.Format(time.RFC3339Nano), how)
	for _, st := range tr.Steps {
		fmt.Fprintf(w, "  %10s  %s\n", "+"+st.Time.Sub(tr.Read).Round(time.Microsecond).String(), stepText(st))
	}
}

// stepText renders a step: "transform keep: dropped", "sink: written
// after 2 retries", "sink: failed: …".
func stepText(st trace.Step) string {
	s := st.Stage
	if st.Name != "" {
		s += " " + st.Name
	}
	s += ": " + string(st.Decision)
	if st.Retries > 0 {
		s += fmt.Sprintf(" after %d retries", st.Retries)
	}
	if st.Error != "" {
		s += ": " + st.Error
	}
	return s
}

// maxShownData bounds the event data one tap line shows.
const maxShownData = 200

// printTapEvent writes one tap event: a head line, then each stage with
// the event's data after the stages that changed it (and as read).
func printTapEvent(w io.Writer, ev trace.TapEvent) {
	fmt.Fprintf(w, "%s  %s  task %d  partition %q  position %q", ev.EventID, strings.ToUpper(string(ev.Outcome)), ev.Task, ev.Partition, ev.Position)
	if ev.Missed > 0 {
		fmt.Fprintf(w, "  (%d events missed before it)", ev.Missed)
	}
	fmt.Fprintln(w)
	for _, st := range ev.Stages {
		line := "  " + stepText(st.Step)
		if st.After != nil && (st.Decision == trace.Read || st.Decision == trace.Changed) {
			data := string(st.After.Data)
			if len(data) > maxShownData {
				data = data[:maxShownData] + "…"
			}
			line += "  " + data
		}
		fmt.Fprintln(w, line)
	}
}
