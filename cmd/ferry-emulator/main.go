// Command ferry-emulator runs one of Ferry's protocol-faithful cloud-service
// emulators (SLS, MNS, DTS) as a process, for the test bed and for local
// development: ferry-emulator <name> [flags].
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// emulators maps an emulator name to its entry point. Each emulator adds
// itself from its own file in this package.
var emulators = map[string]func(ctx context.Context, args []string) error{}

func main() {
	if len(os.Args) < 2 || emulators[os.Args[1]] == nil {
		names := make([]string, 0, len(emulators))
		for n := range emulators {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: ferry-emulator <%v> [flags]\n", names)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := emulators[os.Args[1]](ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "ferry-emulator %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
