package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ferryhq/ferry/internal/emulator/mns"
)

func init() { emulators["mns"] = runMNS }

// runMNS serves the MNS queue emulator until ctx ends:
// ferry-emulator mns [--listen ADDR] [--access-key-id ID] [--access-key-secret SECRET].
// The credentials default to the test bed's, as the other emulators' do.
func runMNS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mns", flag.ContinueOnError)
	listen := fs.String("listen", mns.DefaultAddr, "TCP address to listen on (keep it on 127.0.0.1)")
	keyID := fs.String("access-key-id", "ferry-test", "the only AccessKeyId accepted")
	secret := fs.String("access-key-secret", "ferry-test-secret", "the AccessKeySecret requests must be signed with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := mns.New(mns.Config{Addr: *listen, AccessKeyID: *keyID, AccessKeySecret: *secret})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Printf("mns emulator listening on %s\n", srv.Endpoint())
	return srv.Run(ctx)
}
