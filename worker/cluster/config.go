package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/memberlist"
)

// MembershipConfig configures one worker's membership. The zero values of
// the tuning knobs take the defaults below, chosen so that a killed worker
// is declared dead in about 2–3 s on a LAN or loopback while a loaded
// machine does not see false deaths (memberlist's own LAN defaults take
// 5–6 s).
type MembershipConfig struct {
	// Name is the worker ID, unique in the cluster.
	Name string
	// BindAddr is the IP the gossip listeners (UDP and TCP) bind to.
	BindAddr string
	// BindPort is the gossip port; 0 picks a free one (read it back with
	// Membership.Addr).
	BindPort int
	// AdvertiseAddr and AdvertisePort are what other workers dial. They
	// are used exactly as given; when empty they are BindAddr (which must
	// then be a specific IP, not 0.0.0.0) and the bound port. No interface
	// is ever guessed.
	AdvertiseAddr string
	AdvertisePort int
	// Seeds are gossip addresses (host:port) of workers to join at start
	// and to re-join every RejoinInterval (which heals partitions).
	Seeds []string
	// Meta is gossiped to every member. Meta.WorkerID defaults to Name and
	// must equal it; the encoded Meta must fit in 512 bytes.
	Meta Meta
	// Label is the cluster name: members with another label never merge,
	// so two clusters (or two tests) on one network stay apart.
	Label string
	// SecretKey, when set, encrypts and authenticates gossip (AES, 16, 24
	// or 32 bytes). Members with another key or none cannot join. It is
	// Keys with one key; give one or the other.
	SecretKey []byte
	// Keys is the gossip keyring, at most MaxKeys AES keys of 16, 24 or 32
	// bytes: gossip is encrypted with the first (primary) and decrypted
	// with any. Membership.SetKeys changes it while running (key
	// rotation).
	Keys [][]byte
	// Logger receives memberlist's log lines at their levels; nil is
	// slog.Default().
	Logger *slog.Logger

	// Failure detection (see memberlist.Config for their meaning).
	ProbeInterval           time.Duration // default 400ms
	ProbeTimeout            time.Duration // default 200ms
	SuspicionMult           int           // default 3
	SuspicionMaxTimeoutMult int           // default 3
	GossipInterval          time.Duration // default 100ms
	PushPullInterval        time.Duration // default 5s
	TCPTimeout              time.Duration // default 1s
	// RejoinInterval is how often the seeds and the recently dead members
	// are joined again (one push/pull each); default 2s, so a healed
	// partition merges within a few seconds.
	RejoinInterval time.Duration
	// DeadNodeReclaimTime lets a worker restarted with the same name on
	// another address rejoin once its old entry has been dead that long;
	// default 1s.
	DeadNodeReclaimTime time.Duration
	// LeaveTimeout bounds the graceful leave Run does when its context
	// ends; default 2s.
	LeaveTimeout time.Duration
	// Retention is how long dead and left members stay in Members;
	// default 5m.
	Retention time.Duration

	// Faults, when set, lets a test cut this member off the network.
	Faults *Faults
}

func (c MembershipConfig) withDefaults() MembershipConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ProbeInterval, 400*time.Millisecond)
	def(&c.ProbeTimeout, 200*time.Millisecond)
	def(&c.GossipInterval, 100*time.Millisecond)
	def(&c.PushPullInterval, 5*time.Second)
	def(&c.TCPTimeout, time.Second)
	def(&c.RejoinInterval, 2*time.Second)
	def(&c.DeadNodeReclaimTime, time.Second)
	def(&c.LeaveTimeout, 2*time.Second)
	def(&c.Retention, 5*time.Minute)
	if c.SuspicionMult == 0 {
		c.SuspicionMult = 3
	}
	if c.SuspicionMaxTimeoutMult == 0 {
		c.SuspicionMaxTimeoutMult = 3
	}
	if c.Meta.WorkerID == "" {
		c.Meta.WorkerID = c.Name
	}
	if c.AdvertiseAddr == "" {
		c.AdvertiseAddr = c.BindAddr
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every problem of the config (after defaults) at once,
// wrapped in ErrInvalidConfig.
func (c MembershipConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Name == "" {
		bad("name is required")
	}
	if c.Meta.WorkerID != c.Name {
		bad("meta worker id %q differs from name %q", c.Meta.WorkerID, c.Name)
	}
	if net.ParseIP(c.BindAddr) == nil {
		bad("bind address %q is not an IP address", c.BindAddr)
	}
	if ip := net.ParseIP(c.AdvertiseAddr); ip == nil {
		bad("advertise address %q is not an IP address", c.AdvertiseAddr)
	} else if ip.IsUnspecified() {
		bad("advertise address %q is unspecified: give the address other workers reach", c.AdvertiseAddr)
	}
	if c.BindPort < 0 || c.BindPort > 65535 || c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		bad("ports must be 0–65535")
	}
	if len(c.Label) > memberlist.LabelMaxSize {
		bad("label longer than %d bytes", memberlist.LabelMaxSize)
	}
	if n := len(c.SecretKey); n != 0 && n != 16 && n != 24 && n != 32 {
		bad("secret key is %d bytes; it must be 16, 24 or 32", n)
	}
	if len(c.SecretKey) > 0 && len(c.Keys) > 0 {
		bad("give SecretKey or Keys, not both")
	}
	if err := checkKeys(c.Keys); err != nil {
		errs = append(errs, err)
	}
	if b, err := c.Meta.encode(); err != nil {
		errs = append(errs, err)
	} else if len(b) > memberlist.MetaMaxSize {
		bad("meta is %d bytes encoded; at most %d fit", len(b), memberlist.MetaMaxSize)
	}
	for _, d := range []time.Duration{c.ProbeInterval, c.ProbeTimeout, c.GossipInterval, c.PushPullInterval,
		c.TCPTimeout, c.RejoinInterval, c.DeadNodeReclaimTime, c.LeaveTimeout, c.Retention} {
		if d < 0 {
			bad("durations must not be negative")
			break
		}
	}
	if c.ProbeTimeout >= c.ProbeInterval {
		bad("probe timeout %v must be shorter than the probe interval %v", c.ProbeTimeout, c.ProbeInterval)
	}
	if c.SuspicionMult < 1 || c.SuspicionMaxTimeoutMult < 1 {
		bad("suspicion multipliers must be at least 1")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}

// memberlistConfig builds memberlist's config around the given transport
// and keyring (nil: no encryption).
func (c MembershipConfig) memberlistConfig(t memberlist.Transport, advertisePort int, ring *memberlist.Keyring) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.Name
	mc.Transport = t
	mc.BindAddr = c.BindAddr
	mc.BindPort = advertisePort // unused with our transport, kept coherent
	mc.AdvertiseAddr = c.AdvertiseAddr
	mc.AdvertisePort = advertisePort
	mc.Label = c.Label
	mc.Keyring = ring
	mc.ProbeInterval = c.ProbeInterval
	mc.ProbeTimeout = c.ProbeTimeout
	mc.SuspicionMult = c.SuspicionMult
	mc.SuspicionMaxTimeoutMult = c.SuspicionMaxTimeoutMult
	mc.GossipInterval = c.GossipInterval
	mc.PushPullInterval = c.PushPullInterval
	mc.TCPTimeout = c.TCPTimeout
	mc.DeadNodeReclaimTime = c.DeadNodeReclaimTime
	// Dead members are gossiped about for a little while so that others
	// learn of the death, not for LAN's 30 s.
	mc.GossipToTheDeadTime = 5 * time.Second
	return mc
}
