// Command ferry is the Ferry binary: it runs a worker (`ferry standalone`)
// and talks to a running worker's REST API (`ferry connectors ...`,
// `ferry plugins ...`).
//
// Subcommands live in their own files and register themselves on rootCmd
// from an init function:
//
//	func init() { rootCmd.AddCommand(newThingCmd()) }
//
// Global flags (persistent, so every subcommand sees them through
// cmd.Flags()): --log-level, --url, --output.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/client"
)

// Global flag names, read by subcommands with cmd.Flags().
const (
	flagLogLevel = "log-level"
	flagURL      = "url"
	flagOutput   = "output"
	flagToken    = "token"
	flagUser     = "user"
	flagCACert   = "ca-cert"
	flagInsecure = "insecure"
)

// Environment variables with the credentials of the CLI: in the
// environment, not on the command line, so other users never see them in
// the process list.
const (
	envToken = "FERRY_TOKEN"
	envUser  = "FERRY_USER"
)

// defaultURL is where a worker listens unless told otherwise; envURL
// names the environment variable that changes the default of --url.
const (
	defaultURL = "http://127.0.0.1:8083"
	envURL     = "FERRY_URL"
)

// rootCmd is the command every subcommand file registers on.
var rootCmd = newRootCmd()

// newRootCmd builds a root command with the global flags and no
// subcommands. Tests build their own roots so they can run in parallel.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "ferry",
		Short: "Ferry streams events between systems through connectors",
		// Errors are printed once, by execute, in Ferry's format; usage is
		// noise when the server said no.
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version() + " (commit " + cmp(commit(), "unknown") + ")",
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			level, _ := cmd.Flags().GetString(flagLogLevel)
			logger, levels, err := newLeveledLogger(cmd.ErrOrStderr(), level)
			if err != nil {
				return err
			}
			ctx := context.WithValue(cmd.Context(), loggerKey{}, logger)
			cmd.SetContext(context.WithValue(ctx, levelsKey{}, levels))
			if setDefaultLogger {
				// The real process: libraries that log through slog's
				// default follow --log-level too. Tests run many roots at
				// once and keep the global untouched.
				slog.SetDefault(logger)
				routeLibraryLogs(logger)
			}
			output, _ := cmd.Flags().GetString(flagOutput)
			if output != outputTable && output != outputJSON {
				return fmt.Errorf("--%s must be %q or %q, not %q", flagOutput, outputTable, outputJSON, output)
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.String(flagLogLevel, "info", "log level: debug, info, warn or error")
	url := defaultURL
	if env := os.Getenv(envURL); env != "" {
		url = env
	}
	pf.String(flagURL, url, "base URL of a Ferry worker's REST API (default from $"+envURL+")")
	pf.StringP(flagOutput, "o", outputTable, "output format: table or json")
	pf.String(flagToken, "", "bearer token for a worker with --rest-auth token (better: $"+envToken+", which other users cannot see in the process list)")
	pf.String(flagUser, "", "user:password for a worker with --rest-auth basic (better: $"+envUser+")")
	pf.String(flagCACert, "", "PEM CA bundle that verifies an https worker's certificate (default: the system's roots)")
	pf.Bool(flagInsecure, false, "do not verify an https worker's certificate (testing only)")
	return root
}

// newLogger returns a text logger to w at the named level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(level))); err != nil {
		return nil, fmt.Errorf("--%s: %w", flagLogLevel, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func init() {
	// A subcommand's own PersistentPreRun must not skip the root's logger
	// setup.
	cobra.EnableTraverseRunHooks = true
}

// setDefaultLogger is set by main only, so tests that execute several roots
// in parallel never race on slog's global default.
var setDefaultLogger bool

type loggerKey struct{}

// loggerFrom returns the logger the root command configured for this run.
func loggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

func main() {
	setDefaultLogger = true
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, rootCmd, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs root with args and returns the process exit code, printing
// any error to stderr in Ferry's format.
func execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "interrupted")
			return 130
		}
		fmt.Fprintln(stderr, formatError(err))
		return 1
	}
	return 0
}

// Output formats of --output.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// formatError renders err for the terminal. Server errors carry their HTTP
// status (client.Error prints "error (HTTP 400): message"); anything else is
// prefixed with "error: ".
func formatError(err error) string {
	var he *hintError
	if errors.As(err, &he) {
		return formatError(he.err) + "\nhint: " + he.hint
	}
	var se *client.Error
	if errors.As(err, &se) {
		return se.Error()
	}
	return "error: " + err.Error()
}
