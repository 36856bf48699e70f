package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/ferryhq/ferry/internal/rmqwire"
)

// TestBrokerErr: a failed exchange is ErrBroker with its cause kept; the
// end of ctx is not, so callers stop instead of retrying.
func TestBrokerErr(t *testing.T) {
	t.Parallel()
	if brokerErr(nil) != nil {
		t.Error("brokerErr(nil) is not nil")
	}
	for _, err := range []error{context.Canceled, fmt.Errorf("x: %w", context.DeadlineExceeded)} {
		if got := brokerErr(err); got != err {
			t.Errorf("brokerErr(%v) = %v, want it unchanged", err, got)
		}
	}
	got := brokerErr(fmt.Errorf("route: %w", rmqwire.ErrFrame))
	if !errors.Is(got, ErrBroker) || !errors.Is(got, rmqwire.ErrFrame) {
		t.Errorf("brokerErr of a bad frame = %v, want ErrBroker and ErrFrame", got)
	}
}

// TestNoNameServer: name servers that do not answer are ErrBroker (retried),
// never ErrTopic (which would make Open create the topic).
func TestNoNameServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ns := nameServers{addrs: []string{addr}}
	if _, err := ns.route(t.Context(), "t"); !errors.Is(err, ErrBroker) || errors.Is(err, ErrTopic) {
		t.Errorf("route = %v, want ErrBroker only", err)
	}
	if _, err := ns.masters(t.Context(), ""); !errors.Is(err, ErrBroker) {
		t.Errorf("masters = %v, want ErrBroker", err)
	}
	if _, err := dial(t.Context(), addr, rmqwire.Credentials{}); !errors.Is(err, ErrBroker) {
		t.Errorf("dial = %v, want ErrBroker", err)
	}
}
