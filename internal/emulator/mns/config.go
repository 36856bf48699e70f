package mns

import (
	"fmt"
	"net"
	"time"
)

// DefaultAddr is where the process form listens unless told otherwise.
const DefaultAddr = "127.0.0.1:18002"

// Config configures a Server. The zero value of every optional field has a
// usable default; New never modifies the caller's Config.
type Config struct {
	// Addr is the TCP address Start and Run listen on; "" means
	// "127.0.0.1:0" (an ephemeral port, what tests want).
	Addr string
	// AccessKeyID and AccessKeySecret are the only credentials the emulator
	// accepts. Both are required.
	AccessKeyID     string
	AccessKeySecret string
	// Now is the clock; nil means time.Now. Long polls wait in real time,
	// so a fake clock suits tests that do not long-poll.
	Now func() time.Time
	// SendFault, when set, is asked about every message of a batch send
	// before it is enqueued; a non-empty MNS error code (InternalError,
	// QpsLimitExceeded, …) fails that entry instead, reported in place as
	// any per-entry failure. Test-only: it lets a client's handling of a
	// partly failed batch be exercised with the transient codes the
	// emulator never produces by itself. It is called under Server.mu and
	// must not call back into the server.
	SendFault func(queue, body string) (code string)
}

// Validate reports whether c can be used.
func (c Config) Validate() error {
	if c.AccessKeyID == "" || c.AccessKeySecret == "" {
		return ErrMissingCredentials
	}
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return fmt.Errorf("mns: listen address: %w", err)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
