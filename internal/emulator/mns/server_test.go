package mns_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"

	"github.com/ferryhq/ferry/internal/emulator/mns"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  mns.Config
		want error
	}{
		{"ok", mns.Config{AccessKeyID: "id", AccessKeySecret: "secret"}, nil},
		{"no key id", mns.Config{AccessKeySecret: "secret"}, mns.ErrMissingCredentials},
		{"no secret", mns.Config{AccessKeyID: "id"}, mns.ErrMissingCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := mns.New(tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("New = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := mns.New(mns.Config{Addr: "no-port", AccessKeyID: "id", AccessKeySecret: "s"}); err == nil {
		t.Fatal("New accepted an address without a port")
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	srv, err := mns.New(mns.Config{AccessKeyID: testKeyID, AccessKeySecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Endpoint() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := http.Get(srv.Endpoint() + "/queues")
	if err != nil {
		t.Fatalf("server not reachable: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest { // unsigned: MissingAuthorizationHeader
		t.Fatalf("unsigned request: status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err := srv.Close(); err != nil { // idempotent
		t.Fatalf("second Close: %v", err)
	}
	if err := srv.Start(); !errors.Is(err, mns.ErrStarted) {
		t.Fatalf("Start after Run: %v", err)
	}
}

func TestCloseEndsLongPoll(t *testing.T) {
	t.Parallel()
	srv, _, q := setup(t, "closing", 30)
	errc := make(chan error, 1)
	go func() {
		_, err := receive(q, 30)
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the poll start waiting
	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v with a long poll open", d)
	}
	select {
	case err := <-errc:
		if !ali_mns.ERR_MNS_MESSAGE_NOT_EXIST.IsEqual(err) {
			t.Fatalf("long poll ended with %v, want MessageNotExist", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long poll still open after Close")
	}
}

func TestRunAfterStart(t *testing.T) {
	t.Parallel()
	srv, err := mns.New(mns.Config{AccessKeyID: testKeyID, AccessKeySecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Run(ctx); err != nil { // serves what Start bound, then stops
		t.Fatalf("Run after Start: %v", err)
	}
	if _, err := http.Get(srv.Endpoint() + "/queues"); err == nil {
		t.Fatal("server still answering after Run returned")
	}
}
