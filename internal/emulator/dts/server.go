package dts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// Config configures a Server. The zero value of each field takes the default
// shown; New never changes the caller's struct.
type Config struct {
	// Addr is the host:port the Kafka endpoint listens on
	// (default 127.0.0.1:18003; port 0 picks a free one).
	Addr string
	// User and Password are the DTS account; clients log in with SASL
	// PLAIN as "User-Group" (defaults ferry / ferry-secret).
	User     string
	Password string
	// Group is the DTS consumer group ID (default ferry-group).
	Group string
	// Topic is the subscription topic, created with one partition
	// (default ferry-dts).
	Topic string
}

// Config defaults.
const (
	DefaultAddr     = "127.0.0.1:18003"
	DefaultUser     = "ferry"
	DefaultPassword = "ferry-secret"
	DefaultGroup    = "ferry-group"
	DefaultTopic    = "ferry-dts"
)

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Addr, DefaultAddr)
	def(&c.User, DefaultUser)
	def(&c.Password, DefaultPassword)
	def(&c.Group, DefaultGroup)
	def(&c.Topic, DefaultTopic)
	return c
}

// Validate reports whether c (after defaults) can run.
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("%w: addr %q: %w", ErrInvalidConfig, c.Addr, err)
	}
	if !validTopic(c.Topic) {
		return fmt.Errorf("%w: topic %q is not a legal Kafka topic name", ErrInvalidConfig, c.Topic)
	}
	return nil
}

// validTopic applies Kafka's topic name rule: 1-249 of [a-zA-Z0-9._-], not "." or "..".
func validTopic(t string) bool {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// SASLUser is the SASL PLAIN user name a DTS client logs in with.
func (c Config) SASLUser() string {
	c = c.withDefaults()
	return c.User + "-" + c.Group
}

// Server is an emulated DTS subscription endpoint. Its methods are safe for
// concurrent use.
type Server struct {
	cfg Config

	// mu guards every field below; Publish holds it across the produce so
	// record IDs follow offsets.
	mu      sync.Mutex
	cluster *kfake.Cluster
	client  *kgo.Client
	nextID  int64
	closed  bool
	// addr is the address the first store bound, which later stores
	// (Failover) bind again; stores counts them, naming each cluster.
	addr   string
	stores int
	// history is every published record, so a failover can rebuild the
	// log on the next store.
	history []*kgo.Record
}

// New validates cfg and returns a Server that is not yet listening.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg.withDefaults(), nextID: 1}, nil
}

// Config returns the configuration in effect, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Start opens the Kafka endpoint and the topic. Calling it again after a
// successful Start does nothing; after Close it returns ErrClosed.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.cluster != nil {
		return nil
	}
	return s.openStore()
}

// openStore starts a store: a fresh Kafka cluster on the endpoint with
// the topic and the subscription account. Called with mu held.
func (s *Server) openStore() error {
	addr := s.cfg.Addr
	if s.addr != "" {
		addr = s.addr
	}
	s.stores++
	// The emulator writes records as a superuser whose password nobody
	// knows, so the subscription account stays read-only as in DTS.
	pubUser, pubPass := "ferry-dts-publisher", randomSecret()
	read := func(res kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: res, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		// kfake asks for 127.0.0.1:<port>; we bind exactly the configured address.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
		kfake.ClusterID(fmt.Sprintf("ferry-dts-emulator-%d", s.stores)),
		kfake.SeedTopics(1, s.cfg.Topic),
		kfake.EnableSASL(),
		kfake.EnableACLs(),
		kfake.Superuser("PLAIN", pubUser, pubPass),
		kfake.User("PLAIN", s.cfg.SASLUser(), s.cfg.Password,
			read(kmsg.ACLResourceTypeTopic, s.cfg.Topic, kmsg.ACLOperationRead),
			read(kmsg.ACLResourceTypeTopic, s.cfg.Topic, kmsg.ACLOperationDescribe),
			read(kmsg.ACLResourceTypeGroup, s.cfg.Group, kmsg.ACLOperationRead),
			read(kmsg.ACLResourceTypeGroup, s.cfg.Group, kmsg.ACLOperationDescribe),
		),
	)
	if err != nil {
		return fmt.Errorf("dts: listen on %s: %w", addr, err)
	}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.SASL(plain.Auth{User: pubUser, Pass: pubPass}.AsMechanism()),
		kgo.DefaultProduceTopic(s.cfg.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// Uncompressed batches keep the log readable by every client.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
	if err != nil {
		cluster.Close()
		return fmt.Errorf("dts: publisher: %w", err)
	}
	s.cluster, s.client = cluster, client
	s.addr = cluster.ListenAddrs()[0]
	return nil
}

// Failover simulates DTS moving the subscription to another store, as
// it does when a data store fails: every connection drops, and the same
// endpoint then serves a new Kafka cluster (a new cluster ID) whose log
// holds the records published at or after keepFrom (compared in DTS's
// whole seconds), from offset 0. Records keep their Record.id and
// timestamps, but their offsets change, so a client that resumes at an
// old offset reads the wrong records or runs off the log: DTS clients
// detect the switch (the cluster ID) and seek by timestamp instead.
// Consumer groups and their committed offsets start empty on the new
// store. Publish works as before afterwards.
func (s *Server) Failover(ctx context.Context, keepFrom time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.client == nil {
		return ErrNotStarted
	}
	s.client.Close()
	s.cluster.Close()
	s.client, s.cluster = nil, nil
	if err := s.openStore(); err != nil {
		return err
	}
	from := keepFrom.Unix()
	var keep []*kgo.Record
	for _, r := range s.history {
		if r.Timestamp.UnixMilli() >= from { // DTS seconds, sent as milliseconds
			keep = append(keep, &kgo.Record{Value: r.Value, Timestamp: r.Timestamp})
		}
	}
	if len(keep) == 0 {
		return nil
	}
	if err := s.client.ProduceSync(ctx, keep...).FirstErr(); err != nil {
		return fmt.Errorf("dts: failover: republish: %w", err)
	}
	return nil
}

// ClusterID returns the cluster ID of the store serving now; it changes
// at every Failover.
func (s *Server) ClusterID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("ferry-dts-emulator-%d", s.stores)
}

// Run starts the server if needed and serves until ctx ends, then closes it.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	s.Close()
	return nil
}

// Close stops the endpoint and waits for its goroutines. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.client != nil {
		s.client.Close()
	}
	if s.cluster != nil {
		s.cluster.Close()
	}
}

// Brokers returns the bootstrap addresses clients connect to, or nil before
// Start.
func (s *Server) Brokers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cluster == nil || s.closed {
		return nil
	}
	return s.cluster.ListenAddrs()
}

// Publish appends changes to the topic in order, one Kafka record each, and
// returns once all are written. A change with ID 0 gets the next record ID; a
// zero Timestamp becomes now. The Kafka record timestamp is the change's
// Record.sourceTimestamp, Unix seconds, as DTS writes it. Changes are
// validated before anything is written: on ErrInvalidChange nothing was
// published.
func (s *Server) Publish(ctx context.Context, changes ...Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.client == nil {
		return ErrNotStarted
	}
	recs := make([]*kgo.Record, len(changes))
	id := s.nextID
	for i, c := range changes {
		if c.ID == 0 {
			c.ID = id
		}
		id = max(id, c.ID) + 1
		if c.Timestamp.IsZero() {
			c.Timestamp = time.Now()
		}
		value, err := Encode(c)
		if err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
		recs[i] = &kgo.Record{
			Value: value,
			// kgo sends timestamps in milliseconds; giving it the seconds
			// as milliseconds puts DTS's seconds on the wire.
			Timestamp: kafkaTime(c.Timestamp),
		}
	}
	// Some records may be written even if the produce fails (ctx ends
	// midway): never hand their IDs out again.
	s.nextID = id
	for _, r := range recs {
		s.history = append(s.history, &kgo.Record{Value: r.Value, Timestamp: r.Timestamp})
	}
	if err := s.client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("dts: publish: %w", err)
	}
	return nil
}

// SeekTime converts a point in time into the time.Time to hand a Kafka client
// library's offset-for-time lookup (kafka-go Reader.SetOffsetAt, franz-go
// ListOffsetsAfterMilli via UnixMilli) so it lands on the first DTS record
// whose source time is at or after t. DTS record timestamps are Unix seconds
// and such libraries send milliseconds; t is truncated to the second.
func SeekTime(t time.Time) time.Time { return kafkaTime(t) }

func kafkaTime(t time.Time) time.Time { return time.UnixMilli(t.Unix()) }

func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
