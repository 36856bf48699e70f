package mysql

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/ferryhq/ferry/api"
)

// testStream is a stream over a MySQL server with no connection: events
// are handed to it directly.
func testStream() *stream {
	s := &source{
		cfg:       &settings{batch: 100, batchBytes: 1 << 20},
		log:       slog.New(slog.DiscardHandler),
		warn:      func(string, ...any) {},
		connector: "c",
		partition: "db:3306",
		info:      &serverInfo{flavor: "mysql", gtid: true},
	}
	gset, _ := gmysql.ParseGTIDSet(gmysql.MySQLFlavor, "")
	return &stream{s: s, file: "binlog.000007", gset: gset, tables: map[uint64]*tableMeta{},
		jsonCols: map[string]map[string]bool{}, txTables: map[string]int{}, charsets: map[uint64]string{}}
}

// feed runs events through the stream as read does, returning the records.
func feed(t *testing.T, st *stream, events ...*replication.BinlogEvent) ([]api.Record, error) {
	t.Helper()
	st.queue = events
	var recs []api.Record
	var err error
	for len(st.queue) > 0 || st.cur != nil {
		if st.cur != nil {
			if recs, _, err = st.rows(recs, 0); err != nil {
				return nil, err
			}
			continue
		}
		ev := st.queue[0]
		st.queue = st.queue[1:]
		if recs, _, err = st.handle(ev, recs, 0); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

func event(typ replication.EventType, logPos, size uint32, e replication.Event) *replication.BinlogEvent {
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: typ, LogPos: logPos, EventSize: size,
		Timestamp: 1700000000, ServerID: 1}, Event: e}
}

// payload is a compressed transaction as go-mysql hands it over: the
// events inside carry the payload's start as their position, the last one
// (the XID) its end.
func payload(start, end uint32, rows ...[]any) *replication.BinlogEvent {
	tme := &replication.TableMapEvent{TableID: 9, Schema: []byte("shop"), Table: []byte("t"), ColumnCount: 2,
		ColumnType: []byte{gmysql.MYSQL_TYPE_LONG, gmysql.MYSQL_TYPE_VARCHAR}, ColumnMeta: []uint16{0, 40},
		ColumnName: [][]byte{[]byte("id"), []byte("v")}, PrimaryKey: []uint64{0}}
	return event(replication.TRANSACTION_PAYLOAD_EVENT, end, end-start, &replication.TransactionPayloadEvent{
		CompressionType: replication.ZSTD,
		Events: []*replication.BinlogEvent{
			event(replication.QUERY_EVENT, start, 70, &replication.QueryEvent{Query: []byte("BEGIN")}),
			event(replication.TABLE_MAP_EVENT, start, 60, tme),
			event(replication.WRITE_ROWS_EVENTv2, start, 50, &replication.RowsEvent{TableID: 9, Table: tme, Rows: rows}),
			event(replication.XID_EVENT, end, 31, &replication.XIDEvent{XID: 5}),
		},
	})
}

// TestTransactionPayload feeds MySQL's compressed transactions
// (binlog_transaction_compression=ON) to the stream: their rows must come
// out as records of the transaction that begins at the GTID event before
// the payload, the GTID set must move past it, and a restart inside it must
// skip exactly the rows delivered.
func TestTransactionPayload(t *testing.T) {
	t.Parallel()
	sid := []byte{0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62}
	gtid := event(replication.GTID_EVENT, 200, 79, &replication.GTIDEvent{SID: sid, GNO: 7})
	st := testStream()
	recs, err := feed(t, st, gtid, payload(200, 900, []any{int32(1), "a"}, []any{int32(2), "b"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, after, pos string }{
		{"binlog.000007:121:1", `"after":{"id":1,"v":"a"}`, `{"file":"binlog.000007","pos":121,"row":1}`},
		{"binlog.000007:121:2", `"after":{"id":2,"v":"b"}`, `{"file":"binlog.000007","pos":121,"row":2}`},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		if r.Event.ID != w.id || !strings.Contains(string(r.Event.Data), w.after) || string(r.Position) != w.pos ||
			!strings.Contains(string(r.Event.Data), `"gtid":"3e11fa47-71ca-11e1-9e33-c80aa9429562:7"`) || r.Event.Type != TypeInsert {
			t.Errorf("record %d: %s %s %s %s; want %s %s %s", i, r.Event.Type, r.Event.ID, r.Position, r.Event.Data, w.id, w.after, w.pos)
		}
	}
	if st.inTx || st.commitPos != 900 || st.gset.String() != "3e11fa47-71ca-11e1-9e33-c80aa9429562:7" {
		t.Errorf("after the payload: inTx %v commit pos %d gtids %s; want committed at 900 with :7", st.inTx, st.commitPos, st.gset)
	}

	// A restart after the first row re-reads the transaction and skips it.
	st = testStream()
	st.resumeSkip = 1
	recs, err = feed(t, st, gtid, payload(200, 900, []any{int32(1), "a"}, []any{int32(2), "b"}))
	if err != nil || len(recs) != 1 || recs[0].Event.ID != want[1].id {
		t.Errorf("resumed after row 1: %v, %d records; want only %s", err, len(recs), want[1].id)
	}

	// Without a GTID event before it, the transaction starts at the payload.
	st = testStream()
	recs, err = feed(t, st, payload(300, 700, []any{int32(3), "c"}))
	if err != nil || len(recs) != 1 || string(recs[0].Position) != `{"file":"binlog.000007","pos":300,"row":1}` {
		t.Errorf("payload without GTID: %v, %d records %v", err, len(recs), recs)
	}
}

// TestUndecodedChangesStop checks that an event holding changes the
// decoder passed through undecoded (MariaDB's version-2 compressed row
// events) fails the stream instead of being skipped.
func TestUndecodedChangesStop(t *testing.T) {
	t.Parallel()
	for _, typ := range []replication.EventType{169, 170, 171, replication.TRANSACTION_PAYLOAD_EVENT} {
		st := testStream()
		_, err := feed(t, st, event(typ, 500, 100, &replication.GenericEvent{Data: []byte{1, 2, 3}}))
		if !errors.Is(err, ErrDecode) || !api.IsFatal(err) || !strings.Contains(err.Error(), "binlog.000007:400") {
			t.Errorf("type %d: %v; want a fatal ErrDecode naming binlog.000007:400", typ, err)
		}
	}
	// Events without changes pass.
	st := testStream()
	if _, err := feed(t, st, event(replication.IGNORABLE_EVENT, 500, 100, &replication.GenericEvent{})); err != nil {
		t.Errorf("ignorable event: %v", err)
	}
}

// TestRecordBuffersApart checks that a streamed record's data, key and
// position, which share one buffer, do not overwrite each other when a
// transform or sink appends to one of them.
func TestRecordBuffersApart(t *testing.T) {
	t.Parallel()
	recs, err := feed(t, testStream(), payload(200, 900, []any{int32(1), "a"}))
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v, %d records", err, len(recs))
	}
	r := recs[0]
	data, key, pos := string(r.Event.Data), string(r.Key), string(r.Position)
	if key != `{"id":1}` || pos != `{"file":"binlog.000007","pos":200,"row":1}` || !strings.HasSuffix(data, "}") {
		t.Fatalf("key %s position %s data %s", key, pos, data)
	}
	_ = append(r.Event.Data, "XXXXXXXXXXXXXXXX"...)
	_ = append(r.Key, "YYYYYYYYYYYYYYYY"...)
	_ = append(r.Position, "ZZZZZZZZZZZZZZZZ"...)
	if string(r.Event.Data) != data || string(r.Key) != key || string(r.Position) != pos {
		t.Errorf("after appending to each: data %s key %s position %s", r.Event.Data, r.Key, r.Position)
	}
	if !r.Event.DataMarkedJSON() {
		t.Error("data not marked as JSON the source rendered")
	}
}
