package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/ferryhq/ferry/internal/emulator/sls"
)

func init() { emulators["sls"] = runSLS }

// runSLS serves the SLS emulator until ctx ends:
// ferry-emulator sls [--listen ADDR] [--access-key-id ID] [--access-key-secret SECRET] [--shards N] [--require-create].
func runSLS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sls", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:18001", "address to listen on")
	id := fs.String("access-key-id", "ferry-test", "access key id requests must be signed with")
	secret := fs.String("access-key-secret", "ferry-test-secret", "access key secret requests must be signed with")
	shards := fs.Int("shards", 2, "shards of a logstore created on first use")
	requireCreate := fs.Bool("require-create", false, "answer ProjectNotExist/LogStoreNotExist instead of creating on first use")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	srv, err := sls.New(sls.Config{
		Addr: *listen, AccessKeyID: *id, AccessKeySecret: *secret,
		ShardCount: *shards, RequireCreate: *requireCreate,
	})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Printf("sls emulator listening on %s\n", srv.Endpoint())
	return srv.Run(ctx)
}
