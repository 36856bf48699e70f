package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/ferryhq/ferry/internal/emulator/dts"
)

func init() { emulators["dts"] = runDTS }

// runDTS serves the DTS subscription emulator until ctx ends:
// ferry-emulator dts --listen 127.0.0.1:18003 --user ferry --password ferry-secret
// --group ferry-group --topic ferry-dts [--seed N]
func runDTS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dts", flag.ContinueOnError)
	listen := fs.String("listen", dts.DefaultAddr, "TCP address of the Kafka endpoint (keep it on 127.0.0.1)")
	user := fs.String("user", dts.DefaultUser, "DTS account; clients log in with SASL PLAIN as USER-GROUP")
	password := fs.String("password", dts.DefaultPassword, "DTS account password")
	group := fs.String("group", dts.DefaultGroup, "DTS consumer group ID")
	topic := fs.String("topic", dts.DefaultTopic, "subscription topic (one partition)")
	seed := fs.Int("seed", 0, "publish N sample changes on start (source times end about now)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seed < 0 {
		return fmt.Errorf("--seed must be >= 0, got %d", *seed)
	}
	srv, err := dts.New(dts.Config{Addr: *listen, User: *user, Password: *password, Group: *group, Topic: *topic})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()
	if *seed > 0 {
		start := time.Now().Add(-time.Duration(*seed) * time.Second).Truncate(time.Second)
		if err := srv.Publish(ctx, dts.SampleChanges(*seed, start)...); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	fmt.Printf("dts emulator listening on %s\n", strings.Join(srv.Brokers(), ","))
	<-ctx.Done()
	return nil
}
