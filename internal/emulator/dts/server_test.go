package dts_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"

	"github.com/ferryhq/ferry/internal/emulator/dts"
)

const (
	testUser  = "ferry"
	testPass  = "s3cret"
	testGroup = "dtsg_ferry_1"
	testTopic = "cn_hangzhou_rm_ferry_version2"
)

func startServer(t *testing.T) *dts.Server {
	t.Helper()
	srv, err := dts.New(dts.Config{Addr: "127.0.0.1:0", User: testUser, Password: testPass, Group: testGroup, Topic: testTopic})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func dialer(user, pass string) *kafka.Dialer {
	return &kafka.Dialer{Timeout: 10 * time.Second, SASLMechanism: plain.Mechanism{Username: user, Password: pass}}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sampleTx is a transaction touching every row operation, then a DDL and a
// heartbeat, one second apart, with IDs and timestamps filled in as Publish
// fills them.
func sampleTx(start time.Time) []dts.Change {
	cols := allTypes
	sec := func(n int) time.Time { return start.Add(time.Duration(n) * time.Second) }
	changes := []dts.Change{
		dts.BeginTx(sec(0), "tx-9"),
		{Op: dts.Insert, Database: "shop", Table: "orders", Columns: cols, After: allValues(1, "héllo"),
			Timestamp: sec(1), Txid: "tx-9", Position: "100@3"},
		{Op: dts.Update, Database: "shop", Table: "orders", Columns: cols, Before: allValues(1, "héllo"),
			After: allValues(1, "wörld"), Timestamp: sec(2), Txid: "tx-9", Position: "200@3"},
		{Op: dts.Delete, Database: "shop", Table: "orders", Columns: cols, Before: allValues(1, "wörld"),
			Timestamp: sec(3), Txid: "tx-9", Position: "300@3"},
		dts.CommitTx(sec(4), "tx-9"),
		dts.DDLChange(sec(5), "shop", "orders", "ALTER TABLE orders ADD COLUMN memo TEXT"),
		dts.HeartbeatAt(sec(6)),
	}
	for i := range changes {
		changes[i].ID = int64(i + 1)
	}
	return changes
}

func readN(ctx context.Context, t *testing.T, r *kafka.Reader, n int) []kafka.Message {
	t.Helper()
	var msgs []kafka.Message
	for len(msgs) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read message %d: %v", len(msgs), err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func TestKafkaGoGroupConsumerReadsEveryOperation(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	ctx := testCtx(t)
	start := time.UnixMilli(1_763_800_000_250).UTC()
	want := sampleTx(start)
	// Publish assigns IDs itself: send the changes without them.
	unnumbered := append([]dts.Change(nil), want...)
	for i := range unnumbered {
		unnumbered[i].ID = 0
	}
	if err := srv.Publish(ctx, unnumbered...); err != nil {
		t.Fatal(err)
	}

	newReader := func() *kafka.Reader {
		return kafka.NewReader(kafka.ReaderConfig{
			Brokers: srv.Brokers(), GroupID: testGroup, Topic: testTopic,
			Dialer: dialer(testUser+"-"+testGroup, testPass), MaxWait: 200 * time.Millisecond,
			StartOffset: kafka.FirstOffset,
		})
	}
	r := newReader()
	msgs := readN(ctx, t, r, len(want))
	for i, m := range msgs {
		if m.Partition != 0 || m.Offset != int64(i) {
			t.Errorf("message %d at partition %d offset %d", i, m.Partition, m.Offset)
		}
		if got, wantTS := m.Time.UnixMilli(), want[i].Timestamp.Unix(); got != wantTS {
			t.Errorf("message %d Kafka timestamp %d, want source seconds %d", i, got, wantTS)
		}
		got, err := dts.Decode(m.Value)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("message %d:\n got %#v\nwant %#v", i, got, want[i])
		}
	}
	if err := r.Close(); err != nil { // commits the group's offsets
		t.Fatal(err)
	}

	// A new member of the same group resumes after the committed offsets.
	next := dts.HeartbeatAt(start.Add(time.Minute))
	if err := srv.Publish(ctx, next); err != nil {
		t.Fatal(err)
	}
	r2 := newReader()
	defer r2.Close()
	m := readN(ctx, t, r2, 1)[0]
	got, err := dts.Decode(m.Value)
	if err != nil {
		t.Fatal(err)
	}
	if m.Offset != int64(len(want)) || got.ID != int64(len(want)+1) || got.Op != dts.Heartbeat {
		t.Fatalf("resumed at offset %d with %s id %d, want offset %d heartbeat id %d",
			m.Offset, got.Op, got.ID, len(want), len(want)+1)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	addr := srv.Brokers()[0]
	cases := []struct {
		name, user, pass string
	}{
		{"wrong password", testUser + "-" + testGroup, "nope"},
		{"other group", testUser + "-dtsg_other", testPass},
		{"user without group", testUser, testPass},
		{"other user", "mallory-" + testGroup, testPass},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := dialer(tc.user, tc.pass).DialLeader(testCtx(t), "tcp", addr, testTopic, 0)
			if err == nil {
				conn.Close()
				t.Fatal("login succeeded")
			}
			if !errors.Is(err, kafka.SASLAuthenticationFailed) {
				t.Fatalf("error %v, want SASLAuthenticationFailed", err)
			}
		})
	}
	t.Run("right login", func(t *testing.T) {
		t.Parallel()
		conn, err := dialer(testUser+"-"+testGroup, testPass).DialLeader(testCtx(t), "tcp", addr, testTopic, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// The subscription account only reads, as in DTS.
		_, err = conn.WriteMessages(kafka.Message{Value: []byte("x")})
		if !errors.Is(err, kafka.TopicAuthorizationFailed) {
			t.Fatalf("produce error %v, want TopicAuthorizationFailed", err)
		}
	})
	t.Run("right login, consumer groups", func(t *testing.T) {
		t.Parallel()
		transport := &kafka.Transport{SASL: plain.Mechanism{Username: testUser + "-" + testGroup, Password: testPass}}
		defer transport.CloseIdleConnections()
		client := &kafka.Client{Addr: kafka.TCP(addr), Transport: transport}
		for group, want := range map[string]error{testGroup: nil, "dtsg_other": kafka.GroupAuthorizationFailed} {
			resp, err := client.FindCoordinator(testCtx(t), &kafka.FindCoordinatorRequest{
				Key: group, KeyType: kafka.CoordinatorKeyTypeConsumer})
			if err != nil {
				t.Fatal(err)
			}
			if !errors.Is(resp.Error, want) {
				t.Errorf("group %s: coordinator error %v, want %v", group, resp.Error, want)
			}
		}
	})
}

func TestKafkaGoSeeksByTime(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	ctx := testCtx(t)
	start := time.Unix(1_763_800_000, 0).UTC()
	var changes []dts.Change
	for i := range 4 { // records at start+0s, +10s, +20s, +30s
		changes = append(changes, dts.HeartbeatAt(start.Add(time.Duration(10*i)*time.Second)))
	}
	if err := srv.Publish(ctx, changes...); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		at     time.Time
		offset int64
	}{
		{"before all", start.Add(-time.Hour), 0},
		{"exactly on a record", start.Add(20 * time.Second), 2},
		{"between records", start.Add(15 * time.Second), 2},
		{"sub-second after a record", start.Add(20*time.Second + 900*time.Millisecond), 2},
		{"last", start.Add(21 * time.Second), 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: srv.Brokers(), Topic: testTopic, Partition: 0,
				Dialer: dialer(testUser+"-"+testGroup, testPass), MaxWait: 200 * time.Millisecond,
			})
			defer r.Close()
			if err := r.SetOffsetAt(ctx, dts.SeekTime(tc.at)); err != nil {
				t.Fatal(err)
			}
			m := readN(ctx, t, r, 1)[0]
			got, err := dts.Decode(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if m.Offset != tc.offset || !got.Timestamp.Equal(changes[tc.offset].Timestamp) {
				t.Fatalf("landed on offset %d (%v), want %d (%v)", m.Offset, got.Timestamp, tc.offset, changes[tc.offset].Timestamp)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	if _, err := dts.New(dts.Config{Addr: "no-port"}); !errors.Is(err, dts.ErrInvalidConfig) {
		t.Fatalf("bad addr: %v", err)
	}
	if _, err := dts.New(dts.Config{Topic: "bad topic"}); !errors.Is(err, dts.ErrInvalidConfig) {
		t.Fatalf("bad topic: %v", err)
	}
	srv, err := dts.New(dts.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Config(); got.User != dts.DefaultUser || got.Group != dts.DefaultGroup || got.Topic != dts.DefaultTopic {
		t.Fatalf("defaults not applied: %+v", got)
	}
	if err := srv.Publish(t.Context(), dts.HeartbeatAt(at)); !errors.Is(err, dts.ErrNotStarted) {
		t.Fatalf("publish before start: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Brokers() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := srv.Publish(t.Context(), dts.Change{Op: dts.Insert}); !errors.Is(err, dts.ErrInvalidChange) {
		t.Fatalf("invalid change: %v", err)
	}
	if err := srv.Publish(t.Context(), dts.HeartbeatAt(at)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	srv.Close() // idempotent
	if err := srv.Start(); !errors.Is(err, dts.ErrClosed) {
		t.Fatalf("start after close: %v", err)
	}
	if err := srv.Publish(t.Context(), dts.HeartbeatAt(at)); !errors.Is(err, dts.ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

// TestFailover checks the simulated store switch: a new cluster ID on the
// same endpoint, the records from keepFrom on at new offsets with their
// ids and timestamps kept, and publishing going on after it.
func TestFailover(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	ctx := testCtx(t)
	start := time.Unix(1_763_800_000, 0).UTC()
	var changes []dts.Change
	for i := range 6 { // records at start+0s … +5s, ids 1…6
		changes = append(changes, dts.HeartbeatAt(start.Add(time.Duration(i)*time.Second)))
	}
	if err := srv.Publish(ctx, changes...); err != nil {
		t.Fatal(err)
	}
	addrs, before := srv.Brokers(), srv.ClusterID()
	if err := srv.Failover(ctx, start.Add(3*time.Second+500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if after := srv.ClusterID(); after == before {
		t.Fatalf("cluster ID %q did not change", after)
	}
	if got := srv.Brokers(); !reflect.DeepEqual(got, addrs) {
		t.Fatalf("brokers moved from %v to %v", addrs, got)
	}
	if err := srv.Publish(ctx, dts.HeartbeatAt(start.Add(6*time.Second))); err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: addrs, Topic: testTopic, Partition: 0,
		Dialer: dialer(testUser+"-"+testGroup, testPass), MaxWait: 200 * time.Millisecond,
	})
	defer r.Close()
	// Second 3 is kept whole (DTS times are seconds): ids 4, 5, 6, then 7.
	for i, m := range readN(ctx, t, r, 4) {
		c, err := dts.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if m.Offset != int64(i) || c.ID != int64(4+i) {
			t.Errorf("record %d: offset %d id %d, want offset %d id %d", i, m.Offset, c.ID, i, 4+i)
		}
	}
}
