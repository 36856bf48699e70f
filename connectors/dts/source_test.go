package dts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/api/apitest"
	"github.com/ferryhq/ferry/connectors/dts"
	emu "github.com/ferryhq/ferry/internal/emulator/dts"
)

var t0 = time.Unix(1_763_800_000, 0).UTC()

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func TestConformance(t *testing.T) {
	b := newBed(t)
	var changes []emu.Change
	for i := range 60 {
		changes = append(changes, insert(i+1, fmt.Sprint("n", i), sec(i/4)))
	}
	b.publish(changes...)
	apitest.RunSource(t, apitest.SourceCase{Plugin: dts.Source, Config: b.config("batch.size", "7"), Expect: 40,
		// The in-process emulator's connection readers end when they next
		// read, which a loaded machine may delay past the leak check.
		ServerGoroutines: []string{"github.com/twmb/franz-go/pkg/kfake.(*clientConn).read.func1"}})
}

// TestEventsAreMySQLCDCEvents reads one transaction of each row operation,
// a DDL and a heartbeat, and checks the events mysql-cdc would write for
// them: Debezium envelopes the rds sink applies, the DDL event, the
// transaction boundaries, and a heartbeat carrying the position of the
// records that emit nothing.
func TestEventsAreMySQLCDCEvents(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	b.publish(
		emu.BeginTx(sec(0), "tx-1"),
		insert(1, "héllo", sec(0)), update(1, "héllo", "wörld", sec(1)), del(1, "wörld", sec(1)),
		emu.CommitTx(sec(1), "tx-1"),
		emu.DDLChange(sec(2), "shop", "orders", "ALTER TABLE orders ADD COLUMN qty INT"),
		emu.HeartbeatAt(sec(3)),
	)
	src, _ := newSource(t, b.config("provide.transaction.metadata", "true"), nil)
	open(t, src)
	recs := readEvents(t, src, 6)
	ev := events(recs)
	wantTypes := []string{dts.TypeTx, dts.TypeInsert, dts.TypeUpdate, dts.TypeDelete, dts.TypeTx, dts.TypeDDL}
	for i, r := range ev {
		if !r.Event.DataMarkedJSON() || !json.Valid(r.Event.Data) {
			t.Errorf("event %d (%s): data not marked as the valid JSON the source rendered", i, r.Event.Type)
		}
		if r.Event.Type != wantTypes[i] {
			t.Fatalf("event %d is %s, want %s (%s)", i, r.Event.Type, wantTypes[i], ids(ev))
		}
	}
	topic := b.cfg.Topic
	if got, want := ids(ev), []string{topic + ":2:begin", topic + ":2", topic + ":3", topic + ":4", topic + ":5:end", topic + ":6"}; !slices.Equal(got, want) {
		t.Errorf("ids %v, want %v", got, want)
	}
	cases := []struct {
		rec           api.Record
		op            string
		before, after string
	}{
		{ev[1], "c", "null", `{"id":1,"note":"héllo"}`},
		{ev[2], "u", `{"id":1,"note":"héllo"}`, `{"id":1,"note":"wörld"}`},
		{ev[3], "d", `{"id":1,"note":"wörld"}`, "null"},
	}
	for _, c := range cases {
		e := decode(t, c.rec)
		if e.Op != c.op || string(e.Before) != c.before || string(e.After) != c.after {
			t.Errorf("%s: op %s before %s after %s; want %s %s %s", c.rec.Event.ID, e.Op, e.Before, e.After, c.op, c.before, c.after)
		}
		if e.Source.DB != "shop" || e.Source.Table != "orders" || c.rec.Event.Subject != "shop.orders" {
			t.Errorf("%s: source %+v subject %s", c.rec.Event.ID, e.Source, c.rec.Event.Subject)
		}
	}
	if e := decode(t, ev[5]); e.DDL != "ALTER TABLE orders ADD COLUMN qty INT" || !bytes.Contains(ev[5].Event.Data, []byte(`"kind":"ALTER TABLE","parsed":true`)) {
		t.Errorf("ddl event %s", ev[5].Event.Data)
	}
	if !bytes.Contains(ev[4].Event.Data, []byte(`"status":"END","id":"tx-1","event_count":3,"data_collections":[{"data_collection":"shop.orders","event_count":3}]`)) {
		t.Errorf("END event %s", ev[4].Event.Data)
	}
	// The trailing heartbeat moves the position to record 7 with no
	// change event.
	beat := recs[len(recs)-1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for beat.Event.Type != dts.TypeHeartbeat || !bytes.Contains(beat.Position, []byte(`"id":7`)) {
		more, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("no heartbeat at record 7 (last %s %s): %v", beat.Event.Type, beat.Position, err)
		}
		for _, r := range more {
			if r.Event.Type != dts.TypeHeartbeat {
				t.Fatalf("unexpected event %s", r.Event.ID)
			}
		}
		beat = more[len(more)-1]
	}
	// Positions increase.
	for i := 1; i < len(recs); i++ {
		if bytes.Equal(recs[i].Position, recs[i-1].Position) && recs[i].Event.Type != dts.TypeTx {
			t.Errorf("positions %s and %s repeat", recs[i-1].Position, recs[i].Position)
		}
	}
}

// TestValuesRenderAsMySQLCDC checks the JSON of each DTS value type
// against what mysql-cdc writes for the same column.
func TestValuesRenderAsMySQLCDC(t *testing.T) {
	t.Parallel()
	i32 := func(v int32) *int32 { return &v }
	at := time.Date(2025, 11, 22, 8, 26, 40, 654321000, time.UTC)
	cases := []struct {
		col  emu.ColumnType
		v    emu.Value
		want string
	}{
		{emu.TypeLongLong, emu.Int(-42), `-42`},
		{emu.TypeLongLong, emu.Uint(18446744073709551615), `18446744073709551615`},
		{emu.TypeNewDecimal, emu.Dec("-12345678901234567890.000123", 38, 6), `"-12345678901234567890.000123"`},
		{emu.TypeFloat, emu.Float{Value: float64(float32(1.1)), Precision: 12}, `1.1`},
		{emu.TypeDouble, emu.Float{Value: 0.1}, `0.1`},
		{emu.TypeVarString, emu.Text("wörld \"q\""), `"wörld \"q\""`},
		{emu.TypeString, emu.Character{Charset: "latin1", Value: []byte{'c', 0xe9}}, `"cé"`},
		{emu.TypeVarString, emu.Character{Charset: "gbk", Value: []byte{0xc4, 0xe3}}, `"你"`},
		{emu.TypeTimestamp, emu.TimestampOf(at), `"2025-11-22T08:26:40.654321Z"`},
		{emu.TypeTimestamp, emu.TimestampOf(at.Truncate(time.Second)), `"2025-11-22T08:26:40Z"`},
		{emu.TypeDateTime, emu.DateTimeOf(at), `"2025-11-22T08:26:40.654321"`},
		{emu.TypeDate, emu.DateOf(at), `"2025-11-22"`},
		{emu.TypeTime, emu.DateTime{Hour: i32(13), Minute: i32(5), Second: i32(9)}, `"13:05:09"`},
		{emu.TypeYear, emu.DateTime{Year: i32(2025)}, `2025`},
		{emu.TypeJSON, emu.JSON(`{"a": [1, 2]}`), `{"a":[1,2]}`},
		{emu.TypeEnum, emu.TextObject{Type: "ENUM", Value: "small"}, `"small"`},
		{emu.TypeSet, emu.TextObject{Type: "SET", Value: "a,b"}, `"a,b"`},
		{emu.TypeBlob, emu.Bytes([]byte{0, 1, 2, 0xff}), `"AAEC/w=="`},
		{emu.TypeBit, emu.Integer{Precision: 8, Value: "5"}, `5`},
		{emu.TypeVarString, nil, `null`},
		{emu.TypeVarString, emu.EmptyNull, `null`},
	}
	b := newBed(t)
	var changes []emu.Change
	for i, c := range cases {
		changes = append(changes, emu.Change{Op: emu.Insert, Database: "d", Table: "t",
			Columns: []emu.Column{{Name: "v", Type: c.col}}, After: []emu.Value{c.v}, Timestamp: sec(i)})
	}
	b.publish(changes...)
	src, _ := newSource(t, b.config(), nil)
	open(t, src)
	ev := events(readEvents(t, src, len(cases)))
	for i, c := range cases {
		if got, want := string(decode(t, ev[i]).After), `{"v":`+c.want+`}`; got != want {
			t.Errorf("type %d %#v: after %s, want %s", c.col, c.v, got, want)
		}
	}
}

// TestResumeAfterCommittedPosition: a source opened with a committed
// position reads exactly the records after it, never the configured
// start.timestamp again.
func TestResumeAfterCommittedPosition(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	var changes []emu.Change
	for i := range 30 {
		changes = append(changes, insert(i+1, "x", sec(i/5))) // five a second
	}
	b.publish(changes...)
	cfg := b.config("start.timestamp", fmt.Sprint(sec(0).Unix()))
	src, _ := newSource(t, cfg, nil)
	open(t, src)
	first := events(readEvents(t, src, 12))
	committed := first[11] // mid-second: records 11..15 share second 2
	_ = src.Close(context.Background())

	src2, _ := newSource(t, cfg, map[string]api.Position{committed.Partition: committed.Position})
	open(t, src2)
	rest := events(readEvents(t, src2, 18))
	want := make([]string, 0, 18)
	for id := 13; id <= 30; id++ {
		want = append(want, fmt.Sprintf("%s:%d", b.cfg.Topic, id))
	}
	if got := ids(rest); !slices.Equal(got, want) {
		t.Fatalf("after %s read %v, want %v", committed.Event.ID, got, want)
	}
	quiet(t, src2, 500*time.Millisecond)
}

// TestStartTimestamp: a new connector starts at the first record at or
// after start.timestamp (seconds).
func TestStartTimestamp(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	b.publish(insert(1, "a", sec(0)), insert(2, "b", sec(10)), insert(3, "c", sec(20)))
	src, _ := newSource(t, b.config("start.timestamp", fmt.Sprint(sec(5).Unix())), nil)
	open(t, src)
	if got := ids(events(readEvents(t, src, 2))); !slices.Equal(got, []string{b.cfg.Topic + ":2", b.cfg.Topic + ":3"}) {
		t.Fatalf("read %v", got)
	}
}

// TestStoreFailover switches the emulator's store while a source reads,
// and again while it is stopped: the source notices the new store,
// seeks by the last timestamp, skips by id what the resumed second
// repeats, and so delivers every record exactly once.
func TestStoreFailover(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	var changes []emu.Change
	for i := range 60 {
		changes = append(changes, insert(i+1, "x", sec(i/6))) // six a second
	}
	b.publish(changes[:40]...)
	src, warnings := newSource(t, b.config(), nil)
	open(t, src)
	got := events(readEvents(t, src, 27)) // at least ids 1..27, past mid-second 4
	// The new store keeps from second 1: every old offset now names a
	// record 6 later.
	ctx := context.Background()
	if err := b.srv.Failover(ctx, sec(1)); err != nil {
		t.Fatal(err)
	}
	b.publish(changes[40:50]...)
	got = append(got, events(readEvents(t, src, 50-len(got)))...)
	if len(*warnings) == 0 || !strings.Contains((*warnings)[0], "another store") {
		t.Errorf("warnings %q, want one about the store failover", *warnings)
	}
	committed := got[len(got)-1]

	// Stopped, then another failover keeping only from second 6, then more.
	_ = src.Close(ctx)
	if err := b.srv.Failover(ctx, sec(6)); err != nil {
		t.Fatal(err)
	}
	b.publish(changes[50:]...)
	src2, warnings2 := newSource(t, b.config(), map[string]api.Position{committed.Partition: committed.Position})
	open(t, src2)
	got = append(got, events(readEvents(t, src2, 60-len(got)))...)
	if len(*warnings2) == 0 {
		t.Error("no warning about the store that changed while stopped")
	}
	quiet(t, src2, 500*time.Millisecond)
	want := make([]string, 60)
	for i := range want {
		want[i] = fmt.Sprintf("%s:%d", b.cfg.Topic, i+1)
	}
	if g := ids(got); !slices.Equal(g, want) {
		t.Fatalf("read %v\nwant %v", g, want)
	}
}

// TestGroupInUse: the source refuses a consumer group another client is
// a member of, with a status that says so, and holds the group itself
// so a second Ferry source is refused too.
func TestGroupInUse(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	b.publish(insert(1, "a", sec(0)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A kafka-go group consumer, as DTS's own SDK in subscribe mode.
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: b.srv.Brokers(), Topic: b.cfg.Topic, GroupID: b.cfg.Group, MaxWait: 100 * time.Millisecond,
		Dialer: &kafkago.Dialer{Timeout: 10 * time.Second, SASLMechanism: plain.Mechanism{Username: b.cfg.User + "-" + b.cfg.Group, Password: testPass}},
	})
	if _, err := r.FetchMessage(ctx); err != nil {
		t.Fatal(err)
	}
	src, _ := newSource(t, b.config(), nil)
	err := src.Open(ctx)
	if !errors.Is(err, dts.ErrGroupInUse) || !api.IsFatal(err) || !strings.Contains(err.Error(), b.cfg.Group) {
		t.Fatalf("Open with the group in use: %v; want a fatal ErrGroupInUse naming the group", err)
	}
	t.Log(err)
	r.Close()

	// Once it left, the source takes the group; a second source is refused.
	src1, _ := newSource(t, b.config(), nil)
	open(t, src1)
	src2, _ := newNamedSource(t, "dts-other", b.config(), nil)
	if err := src2.Open(ctx); !errors.Is(err, dts.ErrGroupInUse) {
		t.Fatalf("second source: %v, want ErrGroupInUse", err)
	}
}

// TestBadCredentials: a wrong password or group is a fatal error naming
// what to check.
func TestBadCredentials(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	cases := []struct {
		name string
		kv   []string
		want string
	}{
		{"password", []string{"password", "wrong"}, "source.password"},
		{"user", []string{"user", "nobody"}, "source.user"},
		{"sid", []string{"sid", "dtsg_other"}, "source.sid"},
		{"topic", []string{"topic", "no_such_topic"}, "source.topic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src, _ := newSource(t, b.config(c.kv...), nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := src.Open(ctx)
			if err == nil {
				_ = src.Close(ctx)
				t.Fatal("Open succeeded")
			}
			if !api.IsFatal(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open: %v; want a fatal error naming %s", err, c.want)
			}
		})
	}
}

// TestSchemaIsTheEmulators keeps the two copies of DTS's Record.avsc equal.
func TestSchemaIsTheEmulators(t *testing.T) {
	t.Parallel()
	if !bytes.Equal(dts.Schema(), emu.Schema()) {
		t.Fatal("connectors/dts/record.avsc differs from internal/emulator/dts/record.avsc")
	}
}

// TestClientJoinsMidRead: while a source reads, a second Ferry connector
// on the same group is refused at Open and the reader goes on
// undisturbed; then a foreign client (a kafka-go group consumer, as DTS's
// SDK) joins the group: the reader stops with a fatal ErrGroupInUse
// within a few heartbeats rather than share the group, and once the
// client left, the connector restarted from its committed position reads
// the rest: every record once, none lost.
func TestClientJoinsMidRead(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	const n = 300
	var changes []emu.Change
	for i := range n / 3 {
		changes = append(changes, insert(i+1, "x", sec(i/10)))
	}
	b.publish(changes...)
	cfg := b.config("batch.size", "10")
	src, _ := newSource(t, cfg, nil)
	open(t, src)
	got := events(readEvents(t, src, 30))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	other, _ := newNamedSource(t, "dts-other", cfg, nil)
	start := time.Now()
	if err := other.Open(ctx); !errors.Is(err, dts.ErrGroupInUse) || !api.IsFatal(err) {
		t.Fatalf("a second connector joining mid-read: %v, want a fatal ErrGroupInUse", err)
	}
	changes = changes[:0]
	for i := n / 3; i < 2*n/3; i++ {
		changes = append(changes, insert(i+1, "x", sec(i/10)))
	}
	b.publish(changes...)
	got = append(got, events(readEvents(t, src, 2*n/3-len(got)))...)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing the second connector and reading on took %s: the reader stalled", d)
	}

	// A foreign group consumer joins while more records arrive.
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: b.srv.Brokers(), Topic: b.cfg.Topic, GroupID: b.cfg.Group, MaxWait: 100 * time.Millisecond,
		HeartbeatInterval: 500 * time.Millisecond,
		Dialer:            &kafkago.Dialer{Timeout: 10 * time.Second, SASLMechanism: plain.Mechanism{Username: b.cfg.User + "-" + b.cfg.Group, Password: testPass}},
	})
	fetched := make(chan error, 1)
	go func() {
		_, err := r.FetchMessage(ctx)
		fetched <- err
	}()
	changes = changes[:0]
	for i := 2 * n / 3; i < n; i++ {
		changes = append(changes, insert(i+1, "x", sec(i/10)))
	}
	b.publish(changes...)
	joined := time.Now()
	var err error
	for err == nil {
		var recs []api.Record
		recs, err = src.Read(ctx)
		got = append(got, events(recs)...)
		if api.IsRetryable(err) && !errors.Is(err, context.DeadlineExceeded) {
			err = nil // the engine retries these
		}
	}
	if !errors.Is(err, dts.ErrGroupInUse) || !api.IsFatal(err) || !strings.Contains(err.Error(), b.cfg.Group) {
		t.Fatalf("a client joining mid-read: the reader ended with %v, want a fatal ErrGroupInUse naming the group", err)
	}
	t.Logf("a client joined mid-read: the reader stopped %s later after %d records: %v", time.Since(joined).Round(time.Millisecond), len(got), err)
	if d := time.Since(joined); d > 20*time.Second {
		t.Errorf("the reader noticed the joining client after %s", d)
	}
	if err := <-fetched; err != nil {
		t.Errorf("the joining client could not read: %v", err)
	}
	_ = r.Close()

	// Restarted from what the engine committed (everything read), the
	// connector reads the rest.
	committed := map[string]api.Position{}
	for _, rec := range got {
		committed[rec.Partition] = rec.Position
	}
	again, _ := newSource(t, cfg, committed)
	open(t, again)
	got = append(got, events(readEvents(t, again, n-len(got)))...)
	quiet(t, again, 500*time.Millisecond)
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("%s:%d", b.cfg.Topic, i+1)
	}
	if g := ids(got); !slices.Equal(g, want) {
		t.Fatalf("read %d records %v\nwant %d", len(g), g, n)
	}
}

// TestTaskTakesOverMidRead: a newer task of the same connector (restarted
// or moved to another worker while the old one still reads) opens from
// the committed position mid-read. It takes the group over: the old task
// stops with a fatal ErrReplaced within a heartbeat and leaves the group,
// the new one's Open then succeeds, and it reads the rest: nothing lost,
// and what both read is only the stretch after the committed position.
func TestTaskTakesOverMidRead(t *testing.T) {
	t.Parallel()
	b := newBed(t)
	const n = 200
	var changes []emu.Change
	for i := range n / 2 {
		changes = append(changes, insert(i+1, "x", sec(i/10)))
	}
	b.publish(changes...)
	cfg := b.config("batch.size", "10")
	old, _ := newSource(t, cfg, nil)
	open(t, old)
	got := events(readEvents(t, old, 30))
	last := got[len(got)-1]
	committed := map[string]api.Position{last.Partition: last.Position}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	newer, _ := newSource(t, cfg, committed)
	start := time.Now()
	opened := make(chan error, 1)
	go func() { opened <- newer.Open(ctx) }()
	var err error
	for err == nil {
		var recs []api.Record
		recs, err = old.Read(ctx)
		got = append(got, events(recs)...)
		if api.IsRetryable(err) && !errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	}
	if !errors.Is(err, dts.ErrReplaced) || !api.IsFatal(err) {
		t.Fatalf("the old task ended with %v, want a fatal ErrReplaced", err)
	}
	t.Logf("the old task stepped aside after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if err := <-opened; err != nil {
		t.Fatalf("the newer task's Open: %v", err)
	}
	t.Cleanup(func() { _ = newer.Close(context.Background()) })
	t.Logf("the newer task took the group over %s after it started", time.Since(start).Round(time.Millisecond))
	changes = changes[:0]
	for i := n / 2; i < n; i++ {
		changes = append(changes, insert(i+1, "x", sec(i/10)))
	}
	b.publish(changes...)
	from := decode(t, last).Source.RecordID // the newer task starts after it
	rest := events(readEvents(t, newer, n-int(from)))
	quiet(t, newer, 500*time.Millisecond)
	for i, r := range rest {
		if want := fmt.Sprintf("%s:%d", b.cfg.Topic, int(from)+i+1); r.Event.ID != want {
			t.Fatalf("the newer task's record %d is %s, want %s", i, r.Event.ID, want)
		}
	}
	t.Logf("the old task read %d records, the newer one %d from record %d on: %d read by both", len(got), len(rest), from+1, len(got)-int(from))
}
