package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/ferryhq/ferry/internal/client"
	ferryworker "github.com/ferryhq/ferry/worker"
)

func init() {
	rootCmd.AddCommand(newConnectorsCmd(), newPluginsCmd())
}

// session is what one client command needs: the REST client, where to
// print, and the last response body for --output json.
type session struct {
	client *client.Client
	out    io.Writer
	json   bool
	last   []byte
}

func newSession(cmd *cobra.Command) (*session, error) {
	url, _ := cmd.Flags().GetString(flagURL)
	output, _ := cmd.Flags().GetString(flagOutput)
	level, _ := cmd.Flags().GetString(flagLogLevel)
	// Its own logger rather than slog.Default, so commands run in
	// parallel tests log to their own stderr.
	logger, err := newLogger(cmd.ErrOrStderr(), level)
	if err != nil {
		return nil, err
	}
	s := &session{out: cmd.OutOrStdout(), json: output == outputJSON}
	opts := []client.Option{client.WithResponseHook(func(method, path string, status int, body []byte) {
		logger.Debug("ferry api", "method", method, "path", path, "status", status, "bytes", len(body))
		s.last = body
	})}
	authOpts, err := credentialOptions(cmd)
	if err != nil {
		return nil, err
	}
	c, err := client.New(url, append(opts, authOpts...)...)
	if err != nil {
		return nil, err
	}
	s.client = c
	return s, nil
}

// credentialOptions are the client options of the credential flags, each
// flag falling back to its environment variable.
func credentialOptions(cmd *cobra.Command) ([]client.Option, error) {
	f := cmd.Flags()
	token, _ := f.GetString(flagToken)
	if token == "" {
		token = os.Getenv(envToken)
	}
	user, _ := f.GetString(flagUser)
	if user == "" {
		user = os.Getenv(envUser)
	}
	var opts []client.Option
	switch {
	case token != "" && user != "":
		return nil, fmt.Errorf("give --%s or --%s, not both", flagToken, flagUser)
	case token != "":
		opts = append(opts, client.WithToken(token))
	case user != "":
		u, p, ok := strings.Cut(user, ":")
		if !ok {
			return nil, fmt.Errorf("--%s wants user:password", flagUser)
		}
		opts = append(opts, client.WithBasicAuth(u, p))
	}
	ca, _ := f.GetString(flagCACert)
	insecure, _ := f.GetBool(flagInsecure)
	if ca != "" || insecure {
		opts = append(opts, client.WithTLS(ca, insecure))
	}
	return opts, nil
}

// print shows the result of the last call: the server's own JSON with
// --output json (nothing when it sent no body), else what table writes.
func (s *session) print(table func(w io.Writer)) error {
	if s.json {
		if len(bytes.TrimSpace(s.last)) == 0 {
			return nil
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, s.last, "", "  "); err != nil {
			buf.Reset()
			buf.Write(s.last)
		}
		buf.WriteByte('\n')
		_, err := s.out.Write(buf.Bytes())
		return err
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	table(tw)
	if err := tw.Flush(); err != nil {
		return err
	}
	// tabwriter pads empty last cells; trailing blanks only get in the way
	// of diff and grep.
	var out bytes.Buffer
	for line := range bytes.Lines(buf.Bytes()) {
		out.Write(bytes.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := s.out.Write(out.Bytes())
	return err
}

// say prints one line of table output for calls that return no payload.
func say(format string, args ...any) func(io.Writer) {
	return func(w io.Writer) { fmt.Fprintf(w, format+"\n", args...) }
}

// run adapts a session-using function to cobra.
func run(fn func(cmd *cobra.Command, s *session, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := newSession(cmd)
		if err != nil {
			return err
		}
		return fn(cmd, s, args)
	}
}

func newConnectorsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "connectors",
		Aliases: []string{"connector", "conn"},
		Short:   "Manage the connectors of a running worker",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List connectors with their state",
			Args:  cobra.NoArgs,
			RunE: run(func(cmd *cobra.Command, s *session, _ []string) error {
				list, err := s.client.ConnectorsExpanded(cmd.Context(), "status")
				if err != nil {
					return err
				}
				return s.print(func(w io.Writer) { printConnectorList(w, list) })
			}),
		},
		&cobra.Command{
			Use:   "get NAME",
			Short: "Show a connector's config (secrets redacted) and tasks",
			Args:  cobra.ExactArgs(1),
			RunE: run(func(cmd *cobra.Command, s *session, args []string) error {
				info, err := s.client.Connector(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return s.print(func(w io.Writer) { printConnectorInfo(w, info) })
			}),
		},
		newCreateCmd(),
		newApplyCmd(),
		&cobra.Command{
			Use:   "delete NAME",
			Short: "Delete a connector (its offsets are kept)",
			Args:  cobra.ExactArgs(1),
			RunE: run(func(cmd *cobra.Command, s *session, args []string) error {
				if err := s.client.DeleteConnector(cmd.Context(), args[0]); err != nil {
					return err
				}
				return s.print(say("connector %s deleted", args[0]))
			}),
		},
		targetCmd("pause", "Pause a connector's tasks", (*client.Client).Pause, "pause requested"),
		targetCmd("resume", "Resume a paused or stopped connector", (*client.Client).Resume, "resume requested"),
		targetCmd("stop", "Stop a connector's tasks (required before changing offsets)", (*client.Client).Stop, "stopped"),
		newRestartCmd(),
		newTraceCmd(),
		&cobra.Command{
			Use:   "status NAME",
			Short: "Show the state of a connector and its tasks",
			Args:  cobra.ExactArgs(1),
			RunE: run(func(cmd *cobra.Command, s *session, args []string) error {
				st, err := s.client.Status(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return s.print(func(w io.Writer) { printStatus(w, st) })
			}),
		},
		newOffsetsCmd(),
		&cobra.Command{
			Use:   "config NAME",
			Short: "Show a connector's config",
			Args:  cobra.ExactArgs(1),
			RunE: run(func(cmd *cobra.Command, s *session, args []string) error {
				cfg, err := s.client.Config(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return s.print(func(w io.Writer) { printConfig(w, cfg) })
			}),
		},
		newValidateCmd(),
	)
	return cmd
}

func targetCmd(verb, short string, call func(*client.Client, context.Context, string) error, done string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, s *session, args []string) error {
			if err := call(s.client, cmd.Context(), args[0]); err != nil {
				return err
			}
			return s.print(say("connector %s: %s", args[0], done))
		}),
	}
}

func newCreateCmd() *cobra.Command {
	var file, initial string
	cmd := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Create a connector from a JSON or YAML file ({\"name\":..,\"config\":{..}})",
		Args:  cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, s *session, _ []string) error {
			req, err := readConnectorFile(file, cmd.InOrStdin())
			if err != nil {
				return err
			}
			if initial != "" {
				req.InitialState = strings.ToUpper(initial)
			}
			info, err := s.client.CreateConnector(cmd.Context(), req)
			if client.IsConflict(err) {
				return hinted(err, "to update an existing connector from a file, use: ferry connectors apply -f FILE")
			}
			if err != nil {
				return err
			}
			return s.print(func(w io.Writer) {
				fmt.Fprintf(w, "connector %s created\n", info.Name)
			})
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "connector file, JSON or YAML (- for stdin)")
	cmd.Flags().StringVar(&initial, "initial-state", "", "RUNNING (default), PAUSED or STOPPED; overrides the file's initial_state")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func newRestartCmd() *cobra.Command {
	var includeTasks, onlyFailed bool
	cmd := &cobra.Command{
		Use:   "restart NAME",
		Short: "Restart a connector and, with --include-tasks, its tasks",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, s *session, args []string) error {
			st, err := s.client.RestartConnector(cmd.Context(), args[0], includeTasks, onlyFailed)
			if err != nil {
				return err
			}
			if st == nil {
				return s.print(say("connector %s: restart requested", args[0]))
			}
			return s.print(func(w io.Writer) { printStatus(w, *st) })
		}),
	}
	cmd.Flags().BoolVar(&includeTasks, "include-tasks", false, "restart the connector's tasks too")
	cmd.Flags().BoolVar(&onlyFailed, "only-failed", false, "restart only instances that failed")
	return cmd
}

func newOffsetsCmd() *cobra.Command {
	var reset bool
	var setFile string
	cmd := &cobra.Command{
		Use:   "offsets NAME",
		Short: "Show, reset (--reset) or set (--set-file FILE) a connector's offsets; changes need the connector STOPPED",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, s *session, args []string) error {
			ctx, name := cmd.Context(), args[0]
			switch {
			case reset && setFile != "":
				return errors.New("--reset and --set-file are exclusive")
			case reset:
				m, err := s.client.ResetOffsets(ctx, name)
				if err != nil {
					return err
				}
				return s.print(say("%s", m.Message))
			case setFile != "":
				offs, err := readOffsetsFile(setFile, cmd.InOrStdin())
				if err != nil {
					return err
				}
				m, err := s.client.AlterOffsets(ctx, name, offs)
				if err != nil {
					return err
				}
				return s.print(say("%s", m.Message))
			}
			offs, err := s.client.Offsets(ctx, name)
			if err != nil {
				return err
			}
			return s.print(func(w io.Writer) { printOffsets(w, offs) })
		}),
	}
	cmd.Flags().BoolVar(&reset, "reset", false, "delete every offset of the connector")
	cmd.Flags().StringVar(&setFile, "set-file", "", `set offsets from a JSON or YAML file ({"offsets":[{"partition":{..},"offset":{..}}]}; a null offset deletes)`)
	return cmd
}

func newValidateCmd() *cobra.Command {
	var file, plugin string
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Validate a connector file without creating it; exits non-zero when a field is invalid",
		Args:  cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, s *session, _ []string) error {
			req, err := readConnectorFile(file, cmd.InOrStdin())
			if err != nil {
				return err
			}
			if plugin == "" {
				plugin = cmp(req.Config["source"], req.Config["sink"])
			}
			if plugin == "" {
				return errors.New("the config names no source= or sink= plugin; pass --plugin")
			}
			cfg := maps.Clone(req.Config)
			if _, ok := cfg["name"]; !ok && req.Name != "" {
				cfg["name"] = req.Name
			}
			infos, err := s.client.Validate(cmd.Context(), plugin, cfg)
			if err != nil {
				return err
			}
			if err := s.print(func(w io.Writer) { printValidation(w, infos) }); err != nil {
				return err
			}
			if infos.ErrorCount > 0 {
				return fmt.Errorf("validation failed: %d error(s)", infos.ErrorCount)
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "connector file, JSON or YAML (- for stdin)")
	cmd.Flags().StringVar(&plugin, "plugin", "", "plugin to validate against (default: the config's source, else its sink)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func newPluginsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "plugins",
		Aliases: []string{"plugin"},
		Short:   "Inspect the plugins a worker has",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List source, sink and transform plugins",
		Args:  cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, s *session, _ []string) error {
			plugins, err := s.client.Plugins(cmd.Context())
			if err != nil {
				return err
			}
			return s.print(func(w io.Writer) {
				fmt.Fprintln(w, "PLUGIN\tTYPE\tVERSION\tSUMMARY")
				for _, p := range plugins {
					// The short name is what configs write; TYPE tells
					// a source from a sink of the same name.
					name := p.Class
					if _, short, ok := ferryworker.ParsePluginClass(p.Class); ok {
						name = short
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", name, p.Type, p.Version, oneLine(p.Summary))
				}
			})
		}),
	})
	return cmd
}

// Tables.

func printConnectorList(w io.Writer, list map[string]client.ConnectorExpanded) {
	fmt.Fprintln(w, "NAME\tTYPE\tSTATE\tTASKS\tWORKER")
	for _, name := range slices.Sorted(maps.Keys(list)) {
		st := list[name].Status
		if st == nil {
			fmt.Fprintf(w, "%s\t\t\t\t\n", name)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", name, st.Type, st.Connector.State, taskSummary(st.Tasks), st.Connector.WorkerID)
	}
}

// taskSummary reads "1/3 running, 1 retrying, 1 failed": a task that is
// RUNNING but retrying a failing operation is not counted as running.
func taskSummary(tasks []client.TaskStateInfo) string {
	running, retrying, failed := 0, 0, 0
	for _, t := range tasks {
		switch {
		case t.State == "RUNNING" && t.Health != "":
			retrying++
		case t.State == "RUNNING":
			running++
		case t.State == "FAILED":
			failed++
		}
	}
	s := fmt.Sprintf("%d/%d running", running, len(tasks))
	if retrying > 0 {
		s += fmt.Sprintf(", %d retrying", retrying)
	}
	if failed > 0 {
		s += fmt.Sprintf(", %d failed", failed)
	}
	return s
}

// taskState is a task's STATE column: its state, and its health when it
// is not plain ("RUNNING (retrying since 15:04:05Z)").
func taskState(t client.TaskStateInfo) string {
	if t.Health == "" {
		return t.State
	}
	if t.Since != nil {
		return fmt.Sprintf("%s (%s since %s)", t.State, t.Health, t.Since.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s (%s)", t.State, t.Health)
}

func printConnectorInfo(w io.Writer, info client.ConnectorInfo) {
	tasks := make([]string, len(info.Tasks))
	for i, t := range info.Tasks {
		tasks[i] = strconv.Itoa(t.Task)
	}
	fmt.Fprintf(w, "Name:\t%s\n", info.Name)
	fmt.Fprintf(w, "Type:\t%s\n", info.Type)
	fmt.Fprintf(w, "Tasks:\t%s\n\n", cmp(strings.Join(tasks, ","), "-"))
	printConfig(w, info.Config)
}

func printConfig(w io.Writer, cfg map[string]string) {
	fmt.Fprintln(w, "KEY\tVALUE")
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		fmt.Fprintf(w, "%s\t%s\n", k, oneLine(cfg[k]))
	}
}

func printStatus(w io.Writer, st client.ConnectorStateInfo) {
	fmt.Fprintf(w, "Connector:\t%s (%s)\n\n", st.Name, st.Type)
	fmt.Fprintln(w, "TASK\tSTATE\tWORKER\tERROR")
	fmt.Fprintf(w, "connector\t%s\t%s\t%s\n", st.Connector.State, st.Connector.WorkerID, firstLine(st.Connector.Trace))
	for _, t := range st.Tasks {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", t.ID, taskState(t), t.WorkerID, firstLine(t.Trace))
	}
}

func printOffsets(w io.Writer, offs client.ConnectorOffsets) {
	fmt.Fprintln(w, "PARTITION\tOFFSET")
	for _, o := range offs.Offsets {
		fmt.Fprintf(w, "%s\t%s\n", showMap(o.Partition, "partition"), showMap(o.Offset, "position"))
	}
}

// showMap prints a Kafka Connect partition or offset map: the bare value
// when it is Ferry's single well-known key, else sorted k=v pairs.
func showMap(m map[string]string, key string) string {
	if len(m) == 1 {
		if v, ok := m[key]; ok {
			return v
		}
		if v, ok := m[key+"_base64"]; ok {
			return "base64:" + v
		}
	}
	if m == nil {
		return "null"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func printValidation(w io.Writer, infos client.ConfigInfos) {
	if infos.ErrorCount == 0 {
		fmt.Fprintf(w, "%s: valid (%d fields checked)\n", cmp(infos.Name, "config"), len(infos.Configs))
		return
	}
	fmt.Fprintln(w, "FIELD\tVALUE\tERROR")
	for _, c := range infos.Configs {
		value := "<unset>"
		if c.Value.Value != nil {
			value = oneLine(*c.Value.Value)
		}
		for _, e := range c.Value.Errors {
			fmt.Fprintf(w, "%s\t%s\t%s\n", cmp(c.Value.Name, c.Definition.Name), value, oneLine(e))
		}
	}
	fmt.Fprintf(w, "\n%d error(s)\n", infos.ErrorCount)
}

// oneLine keeps a table row on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`, "\t", `\t`).Replace(s)
}

// firstLine shows the head of a stack trace; --output json has the rest.
func firstLine(s string) string {
	line, rest, _ := strings.Cut(s, "\n")
	if strings.TrimSpace(rest) != "" {
		line += " …"
	}
	return oneLine(strings.TrimRight(line, "\r"))
}

// cmp returns the first non-empty string.
func cmp(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Files.

// readConnectorFile reads a connector in the Kafka Connect envelope
// {"name":..,"config":{..},"initial_state":..} from JSON or YAML (path "-"
// is stdin). A file without a "config" key is taken as the flat config
// itself, its name from the "name" key. Scalar values are kept as written
// (YAML `tasks.max: 3` is "3"), because Ferry configs are strings.
func readConnectorFile(path string, stdin io.Reader) (client.CreateRequest, error) {
	doc, err := readDoc(path, stdin)
	if err != nil {
		return client.CreateRequest{}, err
	}
	return connectorFromDoc(doc, path)
}

// connectorFromDoc maps a parsed document onto a create request; path
// only names the source in errors.
func connectorFromDoc(doc any, path string) (client.CreateRequest, error) {
	top, ok := doc.(map[string]any)
	if !ok {
		return client.CreateRequest{}, fmt.Errorf("%s: want an object with name and config", path)
	}
	var req client.CreateRequest
	raw := top
	if c, has := top["config"]; has {
		m, ok := c.(map[string]any)
		if !ok {
			return req, fmt.Errorf("%s: config must be an object", path)
		}
		raw = m
		for k, v := range top {
			switch k {
			case "config":
			case "name", "initial_state":
				s, ok := v.(string)
				if !ok {
					return req, fmt.Errorf("%s: %s must be a string", path, k)
				}
				if k == "name" {
					req.Name = s
				} else {
					req.InitialState = s
				}
			default:
				return req, fmt.Errorf("%s: unknown top-level key %q (want name, config, initial_state)", path, k)
			}
		}
	}
	req.Config = make(map[string]string, len(raw))
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			return req, fmt.Errorf("%s: config key %q: want a string, number or boolean, got %s", path, k, kindOf(v))
		}
		req.Config[k] = s
	}
	if req.Name == "" {
		req.Name = req.Config["name"]
	}
	if req.Name == "" {
		return req, fmt.Errorf("%s: the connector has no name", path)
	}
	return req, nil
}

// readOffsetsFile reads the body of PATCH /connectors/{name}/offsets from
// JSON or YAML.
func readOffsetsFile(path string, stdin io.Reader) (client.ConnectorOffsets, error) {
	var offs client.ConnectorOffsets
	doc, err := readDoc(path, stdin)
	if err != nil {
		return offs, err
	}
	// Scalars are strings already; a JSON round trip maps the document onto
	// the DTO and rejects other shapes.
	b, err := json.Marshal(doc)
	if err != nil {
		return offs, fmt.Errorf("%s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&offs); err != nil {
		return offs, fmt.Errorf(`%s: want {"offsets":[{"partition":{..},"offset":{..}}]}: %w`, path, err)
	}
	if offs.Offsets == nil {
		return offs, fmt.Errorf(`%s: no "offsets" list`, path)
	}
	return offs, nil
}

// readDoc parses a JSON or YAML file (parseDocFile) into maps, lists,
// strings and nils: every scalar stays the text its author wrote.
func readDoc(path string, stdin io.Reader) (any, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	v, err := parseDocFile(path, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func nodeValue(n *yaml.Node, depth int) (any, error) {
	if depth > maxDocDepth {
		return nil, errors.New("document nested too deeply")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return nodeValue(n.Content[0], depth+1)
	case yaml.AliasNode:
		return nodeValue(n.Alias, depth+1)
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: keys must be scalars", k.Line)
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q already defined", k.Line, k.Value)
			}
			v, err := nodeValue(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
