package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/ferryhq/ferry/connectors/kit"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/ferryhq/ferry/api"
)

// stream follows the binlog from a position and turns row events into
// records. It is driven by Read: it holds no goroutine of its own beyond
// go-mysql's syncer, whose decoded-event queue is max.queue.size long.
type stream struct {
	s        *source
	syncer   *replication.BinlogSyncer
	streamer *replication.BinlogStreamer
	queue    []*replication.BinlogEvent // taken from streamer, not yet handled

	file string         // current binlog file
	gset gmysql.GTIDSet // executed GTIDs; nil without GTID positions

	// The transaction being read.
	inTx    bool
	began   bool   // saw its BEGIN
	txFile  string // where it starts
	txPos   uint32
	txGTIDs string // GTIDs executed before it
	txGTID  string // its own GTID
	row     int    // rows (and DDL) of it seen so far
	skip    int    // rows of it already delivered before a restart
	// Captured rows of it (skipped ones included), in total and per table,
	// for transaction metadata.
	txCount  int
	txTables map[string]int

	// Resume: the first transaction skips this many rows (and its BEGIN
	// event when resumeBegun).
	resumeSkip  int
	resumeBegun bool
	begun       bool // the current transaction's BEGIN was delivered

	// A rows event partly turned into records (a Read filled up).
	cur    *replication.BinlogEvent
	curRow int
	// Its undecoded body when the stream decodes it directly (rowdecode.go):
	// raw[rawPos:] are the row images still to read; offs is the value
	// offsets of the last image rendered, for its key.
	raw    []byte
	rawPos int
	offs   []int
	direct int // rows events of captured tables read from their bytes so far

	tables   map[uint64]*tableMeta
	jsonCols map[string]map[string]bool // MariaDB JSON columns per db.table
	charsets map[uint64]string          // collation id → character set, read once

	// End of the last committed transaction, for heartbeats.
	commitFile string
	commitPos  uint32
	lastEmit   time.Time
	lastBeat   string
	sizeHint   int // last record's data size, to size the next buffer
	lastBatch  int // records the last Read returned
}

// tableMeta is a table's layout as a TableMapEvent described it.
type tableMeta struct {
	tme     *replication.TableMapEvent
	db      string
	name    string
	subject string // db.name
	wanted  bool
	cols    []column
	pk      []int
	// Direct decoding (rowdecode.go): the row-image layout of every column,
	// nil when go-mysql decodes the table's rows, and `"name":` of each
	// column of a wanted table.
	raw  []rawCol
	keys []string
}

func newStream(s *source, from *position) (*stream, error) {
	id := s.cfg.serverID
	if id == 0 {
		id = randomServerID()
	}
	flavor := gmysql.MySQLFlavor
	if s.info.flavor == "mariadb" {
		flavor = gmysql.MariaDBFlavor
	}
	cfg := replication.BinlogSyncerConfig{
		ServerID:                id,
		Flavor:                  flavor,
		Host:                    s.cfg.host,
		Port:                    uint16(s.cfg.port),
		User:                    s.cfg.user,
		Password:                s.cfg.password,
		TimestampStringLocation: time.UTC,
		EventCacheCount:         s.cfg.queue,
		HeartbeatPeriod:         10 * time.Second,
		ReadTimeout:             30 * time.Second,
		// go-mysql's own reconnect may resume mid-transaction or repeat
		// one; the source instead restarts after its last record, row-exact.
		DisableRetrySync: true,
		// Temporal columns as integers, no signedness map per row image.
		RowsEventDecodeFunc: decodeRows,
		Logger:              s.log.With("component", "binlog"),
	}
	st := &stream{
		s:           s,
		file:        from.File,
		resumeSkip:  from.Row,
		resumeBegun: from.Begun,
		tables:      map[uint64]*tableMeta{},
		jsonCols:    map[string]map[string]bool{},
		txTables:    map[string]int{},
		commitFile:  from.File,
		commitPos:   from.Pos,
		lastEmit:    time.Now(),
	}
	st.syncer = replication.NewBinlogSyncer(cfg)
	var err error
	useGTID := s.info.gtid && (from.GTIDs != "" || s.info.flavor == "mariadb")
	if useGTID {
		if st.gset, err = gmysql.ParseGTIDSet(flavor, from.GTIDs); err != nil {
			st.close()
			return nil, api.Fatal(fmt.Errorf("%w: gtids %q: %v", ErrBadPosition, from.GTIDs, err))
		}
	}
	if useGTID && from.GTIDs != "" {
		st.streamer, err = st.syncer.StartSyncGTID(st.gset.Clone())
	} else {
		st.streamer, err = st.syncer.StartSync(gmysql.Position{Name: from.File, Pos: from.Pos})
	}
	if err != nil {
		st.close()
		return nil, fmt.Errorf("mysql-cdc: start binlog sync at %s:%d (gtids %q): %w", from.File, from.Pos, from.GTIDs, err)
	}
	s.log.Info("streaming binlog", "file", from.File, "pos", from.Pos, "gtids", from.GTIDs, "skip_rows", from.Row, "server_id", id)
	return st, nil
}

func (st *stream) close() {
	if st.syncer != nil {
		st.syncer.Close()
		st.syncer = nil
	}
}

// read returns the next batch: it blocks for the first record, then takes
// only what the syncer already decoded, up to the batch limits.
func (st *stream) read(ctx context.Context) ([]api.Record, error) {
	cfg := st.s.cfg
	// Size the batch like the last one: under load one allocation of the
	// right size instead of repeated doubling.
	recs := make([]api.Record, 0, min(cfg.batch, max(16, st.lastBatch)))
	size := 0
	defer func() {
		st.lastBatch = len(recs)
		if len(recs) > 0 {
			st.lastEmit = time.Now() // heartbeats only when quiet
		}
	}()
	for len(recs) < cfg.batch && size < cfg.batchBytes {
		if st.cur != nil {
			var err error
			if recs, size, err = st.rows(recs, size); err != nil {
				return nil, err
			}
			continue
		}
		var ev *replication.BinlogEvent
		switch {
		case len(st.queue) > 0:
			ev = st.queue[0]
			st.queue[0] = nil
			st.queue = st.queue[1:]
		case len(recs) > 0:
			st.queue = st.streamer.DumpEvents()
			if len(st.queue) == 0 {
				return recs, nil
			}
			continue
		default:
			var err error
			ev, err = st.next(ctx)
			if err != nil {
				return nil, err
			}
			if ev == nil { // heartbeat due
				if r, ok := st.heartbeat(ctx); ok {
					return []api.Record{r}, nil
				}
				continue
			}
		}
		var err error
		if recs, size, err = st.handle(ev, recs, size); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// next blocks for one event; nil means a heartbeat is due.
func (st *stream) next(ctx context.Context) (*replication.BinlogEvent, error) {
	hb := st.s.cfg.heartbeat
	if hb <= 0 {
		ev, err := st.streamer.GetEvent(ctx)
		return ev, st.streamErr(ctx, err)
	}
	wait := time.Until(st.lastEmit.Add(hb))
	if wait <= 0 {
		return nil, nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ev, err := st.streamer.GetEvent(wctx)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, nil
	}
	return ev, st.streamErr(ctx, err)
}

func (st *stream) streamErr(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	// The syncer gave up (after its own reconnects); the engine retries by
	// reopening the source from the committed position.
	return fmt.Errorf("mysql-cdc: binlog stream: %w", err)
}

// heartbeat returns a heartbeat record at the end of the last committed
// transaction when the position moved since the last record, and runs the
// heartbeat query.
func (st *stream) heartbeat(ctx context.Context) (api.Record, bool) {
	st.lastEmit = time.Now()
	if q := st.s.cfg.heartbeatSQL; q != "" {
		if _, err := st.s.db.ExecContext(ctx, q); err != nil {
			st.s.log.Warn("heartbeat query failed", "error", err)
		}
	}
	if st.inTx || st.commitFile == "" {
		return api.Record{}, false
	}
	gtids := ""
	if st.gset != nil {
		gtids = st.gset.String()
	}
	pos := appendStream(nil, st.commitFile, st.commitPos, gtids, 0)
	if string(pos) == st.lastBeat {
		return api.Record{}, false
	}
	st.lastBeat = string(pos)
	now := time.Now()
	d := append([]byte(`{"position":`), pos...)
	d = append(d, `,"ts_ms":`...)
	d = fmt.Appendf(d, "%d}", now.UnixMilli())
	return api.Record{
		Event: api.Event{
			ID:              "heartbeat:" + streamID(st.commitFile, st.commitPos, 0),
			Source:          st.s.evSource,
			SpecVersion:     api.SpecVersion,
			Type:            TypeHeartbeat,
			Time:            now,
			DataContentType: "application/json",
			Data:            d,
		},
		Partition: st.s.partition,
		Position:  pos,
	}, true
}

// handle applies one event to the stream state, appending any records.
func (st *stream) handle(ev *replication.BinlogEvent, recs []api.Record, size int) ([]api.Record, int, error) {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		st.file = string(e.NextLogName)
		if !st.inTx {
			st.commitFile, st.commitPos = st.file, uint32(e.Position)
		}
	case *replication.MariadbGTIDEvent:
		st.begin(h, e.GTID.String())
		// A non-standalone MariaDB GTID stands for BEGIN: statements up to
		// the COMMIT belong to the transaction, not DDL.
		st.began = !e.IsStandalone() && !e.IsDDL()
	case *replication.GTIDEvent:
		g := ""
		if set, err := e.GTIDNext(); err == nil && !allZero(e.SID) {
			g = set.String()
		}
		st.begin(h, g)
	case *replication.QueryEvent:
		return st.query(h, e, recs, size)
	case *replication.XIDEvent:
		if r, ok := st.txEnd(h); ok {
			recs = append(recs, r)
			size += r.Size()
		}
		st.commit(h)
	case *replication.RowsEvent:
		if !st.inTx {
			st.begin(h, "")
		}
		if err := st.startRows(ev, e); err != nil {
			return nil, 0, err
		}
	case *replication.TransactionPayloadEvent:
		// MySQL's binlog_transaction_compression writes a transaction's
		// events (BEGIN, table maps, rows, XID) as one zstd payload after
		// its GTID event; go-mysql has decoded them. They are handled next,
		// before anything queued after the payload. Their positions are the
		// payload's start, the last one's (the XID) its end.
		if !st.inTx {
			st.begin(h, "")
		}
		st.queue = append(slices.Clone(e.Events), st.queue...)
	case *replication.GenericEvent:
		if carriesChanges(h.EventType) {
			return nil, 0, api.Fatal(fmt.Errorf("%w: the binlog event of type %d at %s:%d carries changes the decoder cannot read, and skipping it would lose them; if the server compresses its binlog, set log_bin_compress=OFF and take a new snapshot (snapshot.mode=when_needed or new offsets)",
				ErrDecode, byte(h.EventType), st.file, h.LogPos-h.EventSize))
		}
	}
	return recs, size, nil
}

// MariaDB's compressed row events of the version-2 layout, which go-mysql
// does not decode (it returns them as generic events).
const (
	mariadbWriteRowsCompressed  replication.EventType = 169
	mariadbUpdateRowsCompressed replication.EventType = 170
	mariadbDeleteRowsCompressed replication.EventType = 171
)

// carriesChanges reports event types that hold row changes or statements,
// so that one the decoder passed through undecoded stops the stream
// instead of being skipped.
func carriesChanges(t replication.EventType) bool {
	switch t {
	case mariadbWriteRowsCompressed, mariadbUpdateRowsCompressed, mariadbDeleteRowsCompressed,
		replication.WRITE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv0,
		replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv1,
		replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1, replication.PARTIAL_UPDATE_ROWS_EVENT,
		replication.TRANSACTION_PAYLOAD_EVENT, replication.QUERY_EVENT, replication.MARIADB_QUERY_COMPRESSED_EVENT:
		return true
	}
	return false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// begin starts a transaction at the event h heads.
func (st *stream) begin(h *replication.EventHeader, gtid string) {
	st.inTx, st.began = true, false
	st.txFile = st.file
	st.txPos = h.LogPos - h.EventSize
	st.txGTID = gtid
	st.txGTIDs = ""
	if st.gset != nil {
		st.txGTIDs = st.gset.String()
	}
	st.row = 0
	st.skip, st.resumeSkip = st.resumeSkip, 0
	st.begun, st.resumeBegun = st.resumeBegun, false
	st.txCount = 0
	clear(st.txTables)
}

// commit ends the transaction at the event h heads.
func (st *stream) commit(h *replication.EventHeader) {
	if st.gset != nil && st.txGTID != "" {
		if err := st.gset.Update(st.txGTID); err != nil {
			st.s.log.Warn("cannot track GTID", "gtid", st.txGTID, "error", err)
		}
	}
	st.inTx, st.began = false, false
	st.commitFile, st.commitPos = st.file, h.LogPos
}

func (st *stream) query(h *replication.EventHeader, e *replication.QueryEvent, recs []api.Record, size int) ([]api.Record, int, error) {
	q := strings.TrimSpace(string(e.Query))
	word := strings.ToUpper(kit.FirstWord(q))
	switch word {
	case "BEGIN":
		if !st.inTx {
			st.begin(h, "")
		}
		st.began = true
		return recs, size, nil
	case "COMMIT", "ROLLBACK":
		if st.inTx {
			if r, ok := st.txEnd(h); ok {
				recs = append(recs, r)
				size += r.Size()
			}
			st.commit(h)
		}
		return recs, size, nil
	case "SAVEPOINT", "XA", "RELEASE":
		return recs, size, nil
	}
	if st.began {
		return recs, size, nil // a statement inside a row-based transaction
	}
	// A DDL (or other statement) is a transaction of its own.
	if !st.inTx {
		st.begin(h, "")
	}
	st.row++
	defer st.commit(h)
	if st.row <= st.skip {
		return recs, size, nil
	}
	d := parseDDL(q, string(e.Schema))
	if d.admin {
		return recs, size, nil
	}
	st.invalidate(d)
	if !d.parsed {
		st.s.warn("DDL not understood, emitted as an unparsed ddl event: "+truncate(q, 200), "schema", string(e.Schema))
	}
	if d.db != "" && !st.s.cfg.dbWanted(d.db) {
		return recs, size, nil
	}
	if d.table != "" && !st.s.cfg.tableWanted(d.db, d.table) && (d.newTable == "" || !st.s.cfg.tableWanted(d.db, d.newTable)) {
		return recs, size, nil
	}
	r := st.ddlRecord(h, q, d)
	return append(recs, r), size + r.Size(), nil
}

// invalidate forgets cached column facts a DDL may have changed.
func (st *stream) invalidate(d ddl) {
	// Table ids are reassigned after DDL on most servers, but MariaDB may
	// keep one while ENUM members change; rebuild every layout.
	clear(st.tables)
	if !d.parsed || d.table == "" {
		clear(st.jsonCols)
		return
	}
	delete(st.jsonCols, d.db+"."+d.table)
	if d.newTable != "" {
		delete(st.jsonCols, d.db+"."+d.newTable)
	}
}

func (st *stream) ddlRecord(h *replication.EventHeader, q string, d ddl) api.Record {
	s := st.s
	o := origin{serverID: h.ServerID, ts: time.Unix(int64(h.Timestamp), 0), db: d.db, tbl: d.table,
		file: st.txFile, pos: st.txPos, row: st.row, gtid: st.txGTID}
	b := kit.BeginDDLEvent(make([]byte, 0, len(q)+384), q, d.kit())
	b = append(b, `,"source":`...)
	b = s.appendOrigin(b, &o)
	b = kit.EndDDLEvent(b, time.Now().UnixMilli())
	subject := d.db
	if d.table != "" {
		subject += "." + d.table
	}
	return api.Record{
		Event: api.Event{
			ID:              streamID(st.txFile, st.txPos, st.row),
			Source:          s.evSource,
			SpecVersion:     api.SpecVersion,
			Type:            TypeDDL,
			Subject:         subject,
			Time:            o.ts,
			DataContentType: "application/json",
			Data:            b,
		},
		Partition: s.partition,
		Position:  appendStream(nil, st.txFile, st.txPos, st.txGTIDs, st.row),
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func rowsOp(t replication.EventType) byte {
	switch t {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		return 'c'
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		return 'd'
	}
	return 'u'
}

// startRows makes ev the rows event being read. An event decodeRows left
// undecoded is read directly when its table's layout allows (tableMeta.raw)
// and it is a plain rows event; otherwise go-mysql decodes it now.
func (st *stream) startRows(ev *replication.BinlogEvent, e *replication.RowsEvent) error {
	st.cur, st.curRow, st.raw, st.rawPos = ev, 0, nil, 0
	r := deferredRows(e)
	if r == nil {
		return nil
	}
	e.Rows = nil
	m, err := st.meta(e.Table)
	if err != nil {
		return err
	}
	if m.raw != nil && directRows(ev.Header.EventType, e) {
		st.raw, st.rawPos = r.data, r.pos
		if m.wanted {
			st.direct++
		}
		return nil
	}
	if err := decodeData(e, r.pos, r.data); err != nil {
		return fmt.Errorf("mysql-cdc: binlog stream: rows event at %s:%d: %w", st.file, ev.Header.LogPos-ev.Header.EventSize, err)
	}
	return nil
}

// more reports whether st.cur has rows left: row images in st.raw, or
// decoded rows (n of them).
func (st *stream) more(n int) bool {
	if st.raw != nil {
		return st.rawPos < len(st.raw)
	}
	return st.curRow < n
}

// skipRaw passes over the row's images in st.raw.
func (st *stream) skipRaw(m *tableMeta, e *replication.RowsEvent) error {
	var err error
	if st.rawPos, err = skipRawImage(m.raw, e.ColumnBitmap1, st.raw, st.rawPos); err == nil && e.ColumnBitmap2 != nil {
		st.rawPos, err = skipRawImage(m.raw, e.ColumnBitmap2, st.raw, st.rawPos)
	}
	return err
}

// renderRaw appends the row's before image, `,"after":` and its after
// image from st.raw, as the rendering of go-mysql's decoding does.
func (st *stream) renderRaw(d []byte, m *tableMeta, e *replication.RowsEvent, op byte) ([]byte, error) {
	if len(st.offs) < len(m.raw) {
		st.offs = make([]int, len(m.raw))
	}
	var err error
	if op == 'c' {
		d = append(d, "null"...)
	} else if d, st.rawPos, err = renderRawImage(d, m, e.ColumnBitmap1, st.raw, st.rawPos, st.offs); err != nil {
		return d, err
	}
	d = append(d, `,"after":`...)
	switch op {
	case 'c':
		d, st.rawPos, err = renderRawImage(d, m, e.ColumnBitmap1, st.raw, st.rawPos, st.offs)
	case 'u':
		d, st.rawPos, err = renderRawImage(d, m, e.ColumnBitmap2, st.raw, st.rawPos, st.offs)
	default:
		d = append(d, "null"...)
	}
	return d, err
}

// rows turns the rest of st.cur into records, stopping when the batch is
// full (st.cur then stays for the next Read).
func (st *stream) rows(recs []api.Record, size int) ([]api.Record, int, error) {
	ev := st.cur
	e := ev.Event.(*replication.RowsEvent)
	h := ev.Header
	op := rowsOp(h.EventType)
	step := 1
	if op == 'u' {
		step = 2
	}
	n := len(e.Rows) / step
	m, err := st.meta(e.Table)
	if err != nil {
		return nil, 0, err
	}
	direct := st.raw != nil
	cfg := st.s.cfg
	now := time.Now()
	for st.more(n) {
		i := st.curRow
		st.curRow++
		st.row++
		if !m.wanted {
			if direct {
				if err := st.skipRaw(m, e); err != nil {
					return nil, 0, fmt.Errorf("%s.%s: %w", m.db, m.name, err)
				}
			}
			continue
		}
		st.txCount++
		st.txTables[m.subject]++
		if st.row <= st.skip {
			if direct {
				if err := st.skipRaw(m, e); err != nil {
					return nil, 0, fmt.Errorf("%s.%s: %w", m.db, m.name, err)
				}
			}
			continue
		}
		if cfg.txMeta && st.txCount == 1 && !st.begun {
			r := st.txBegin(h)
			recs = append(recs, r)
			size += r.Size()
		}
		var before, after, keyImg []any
		switch {
		case direct:
		case op == 'c':
			after = e.Rows[i]
			keyImg = after
		case op == 'd':
			before = e.Rows[i]
			keyImg = before
		default:
			before, after = e.Rows[2*i], e.Rows[2*i+1]
			keyImg = after
		}
		d := beginEnvelope(st.sizeHint)
		switch {
		case direct:
			d, err = st.renderRaw(d, m, e, op)
		case before != nil:
			d, err = renderBinlog(d, m.cols, nil, before)
		default:
			d = append(d, "null"...)
		}
		if err == nil && !direct {
			d = append(d, `,"after":`...)
			if after != nil {
				d, err = renderBinlog(d, m.cols, nil, after)
			} else {
				d = append(d, "null"...)
			}
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s.%s: %w", m.db, m.name, err)
		}
		ts := time.Unix(int64(h.Timestamp), 0)
		o := origin{serverID: h.ServerID, ts: ts, db: m.db, tbl: m.name,
			file: st.txFile, pos: st.txPos, row: st.row, gtid: st.txGTID}
		if cfg.txMeta {
			d = append(d, `,"transaction":{"id":`...)
			d = api.AppendJSONString(d, st.txID())
			d = append(d, `,"total_order":`...)
			d = strconv.AppendInt(d, int64(st.txCount), 10)
			d = append(d, `,"data_collection_order":`...)
			d = strconv.AppendInt(d, int64(st.txTables[m.subject]), 10)
			d = append(d, '}')
		}
		d = st.s.finishEnvelope(d, op, &o, now)
		// The key and the position follow the data in its buffer: one
		// allocation for the three, each capped so that appending to one
		// cannot overwrite the next.
		end := len(d)
		keyEnd := end
		if len(m.pk) > 0 {
			if direct {
				d, err = renderRawKey(d, m, st.raw, st.offs)
			} else {
				d, err = renderBinlog(d, m.cols, m.pk, keyImg)
			}
			if err != nil {
				return nil, 0, fmt.Errorf("%s.%s: %w", m.db, m.name, err)
			}
			keyEnd = len(d)
		}
		d = appendStream(d, st.txFile, st.txPos, st.txGTIDs, st.row)
		st.sizeHint = len(d) + 64
		var key []byte
		if keyEnd > end {
			key = d[end:keyEnd:keyEnd]
		}
		pos := api.Position(d[keyEnd:len(d):len(d)])
		r := st.s.newRecord(op, m.subject, d[:end:end], key, ts, streamID(st.txFile, st.txPos, st.row), pos)
		recs = append(recs, r)
		size += r.Size()
		if len(recs) >= cfg.batch || size >= cfg.batchBytes {
			if !st.more(n) {
				st.cur, st.raw = nil, nil
			}
			return recs, size, nil
		}
	}
	st.cur, st.raw = nil, nil
	return recs, size, nil
}

// meta returns the layout of the table a rows event refers to, rebuilt
// only when the table map changed.
func (st *stream) meta(tme *replication.TableMapEvent) (*tableMeta, error) {
	m := st.tables[tme.TableID]
	if m != nil && m.tme == tme {
		return m, nil
	}
	db, name := string(tme.Schema), string(tme.Table)
	if m != nil && m.db == db && m.name == name && sameLayout(m.tme, tme) {
		m.tme = tme
		return m, nil
	}
	m = &tableMeta{tme: tme, db: db, name: name, subject: db + "." + name, wanted: st.s.cfg.tableWanted(db, name),
		raw: rawLayout(tme)}
	st.tables[tme.TableID] = m
	if !m.wanted {
		return m, nil
	}
	names := tme.ColumnNameString()
	if len(names) == 0 {
		return nil, api.Fatal(fmt.Errorf("%w: the row event for %s.%s has no column names (written before binlog_row_metadata=FULL was set?)", ErrRowMetadata, db, name))
	}
	var jc map[string]bool
	if st.s.info.flavor == "mariadb" {
		var ok bool
		if jc, ok = st.jsonCols[db+"."+name]; !ok {
			ctx, cancel := context.WithTimeout(context.Background(), st.s.cfg.connectTimeout)
			var err error
			jc, err = mariadbJSONColumns(ctx, st.s.db, db, name)
			cancel()
			if err != nil {
				return nil, err
			}
			st.jsonCols[db+"."+name] = jc
		}
	}
	if st.charsets == nil {
		ctx, cancel := context.WithTimeout(context.Background(), st.s.cfg.connectTimeout)
		cs, err := collationCharsets(ctx, st.s.db)
		cancel()
		if err != nil {
			return nil, err
		}
		st.charsets = cs
	}
	enums, sets := tme.EnumStrValueMap(), tme.SetStrValueMap()
	if err := decodeMembers(st.charsets, tme.EnumSetCollationMap(), enums, sets); err != nil {
		return nil, api.Fatal(fmt.Errorf("%s.%s: %w", db, name, err))
	}
	var err error
	if m.cols, err = binlogColumns(tme.ColumnType, tme.ColumnMeta, names, tme.UnsignedMap(), tme.CollationMap(),
		enums, sets, jc, st.charsets); err != nil {
		return nil, api.Fatal(fmt.Errorf("%s.%s: %w", db, name, err))
	}
	for _, k := range tme.PrimaryKey {
		m.pk = append(m.pk, int(k))
	}
	m.keys = columnKeys(m.cols)
	return m, nil
}

// sameLayout reports whether two table maps describe the same columns.
func sameLayout(a, b *replication.TableMapEvent) bool {
	if !bytes.Equal(a.ColumnType, b.ColumnType) || len(a.ColumnMeta) != len(b.ColumnMeta) ||
		len(a.ColumnName) != len(b.ColumnName) || len(a.PrimaryKey) != len(b.PrimaryKey) ||
		!bytes.Equal(a.SignednessBitmap, b.SignednessBitmap) {
		return false
	}
	for i := range a.ColumnMeta {
		if a.ColumnMeta[i] != b.ColumnMeta[i] {
			return false
		}
	}
	for i := range a.ColumnName {
		if !bytes.Equal(a.ColumnName[i], b.ColumnName[i]) {
			return false
		}
	}
	for i := range a.PrimaryKey {
		if a.PrimaryKey[i] != b.PrimaryKey[i] {
			return false
		}
	}
	// ENUM/SET members and charsets change only by DDL, which clears
	// the cache (invalidate).
	return true
}

// renderBinlog renders decoded binlog values as a JSON object of the
// columns in idx (all when nil).
func renderBinlog(b []byte, cols []column, idx []int, vals []any) ([]byte, error) {
	return renderRow(b, cols, idx, vals, appendBinlogValue)
}

// txID names the current transaction as Debezium does: its GTID, else its
// start as file:pos.
func (st *stream) txID() string {
	if st.txGTID != "" {
		return st.txGTID
	}
	return st.txFile + ":" + strconv.FormatUint(uint64(st.txPos), 10)
}

// txBegin is the BEGIN event, placed just before the transaction's first
// captured row: its position is row-1 marked "begun", so a restart there
// delivers that row next and not the BEGIN again.
func (st *stream) txBegin(h *replication.EventHeader) api.Record {
	d := append([]byte(`{"status":"BEGIN","id":`), api.AppendJSONString(nil, st.txID())...)
	d = append(d, `,"event_count":null,"data_collections":null,"ts_ms":`...)
	d = strconv.AppendInt(d, time.Now().UnixMilli(), 10)
	d = append(d, '}')
	st.begun = true
	r := st.txRecord(h, d, "begin", st.row-1)
	r.Position = append(r.Position[:len(r.Position)-1], `,"begun":true}`...)
	return r
}

// txEnd is the END event of a transaction that touched captured tables,
// positioned after its last row (row count + 1); a restart at or after
// that position does not deliver it again.
func (st *stream) txEnd(h *replication.EventHeader) (api.Record, bool) {
	if !st.s.cfg.txMeta || st.txCount == 0 || st.row+1 <= st.skip {
		return api.Record{}, false
	}
	d := append([]byte(`{"status":"END","id":`), api.AppendJSONString(nil, st.txID())...)
	d = append(d, `,"event_count":`...)
	d = strconv.AppendInt(d, int64(st.txCount), 10)
	d = append(d, `,"data_collections":[`...)
	for i, t := range slices.Sorted(maps.Keys(st.txTables)) {
		if i > 0 {
			d = append(d, ',')
		}
		d = append(d, `{"data_collection":`...)
		d = api.AppendJSONString(d, t)
		d = append(d, `,"event_count":`...)
		d = strconv.AppendInt(d, int64(st.txTables[t]), 10)
		d = append(d, '}')
	}
	d = append(d, `],"ts_ms":`...)
	d = strconv.AppendInt(d, time.Now().UnixMilli(), 10)
	d = append(d, '}')
	return st.txRecord(h, d, "end", st.row+1), true
}

func (st *stream) txRecord(h *replication.EventHeader, data []byte, what string, row int) api.Record {
	return api.Record{
		Event: api.Event{
			ID:              st.txFile + ":" + strconv.FormatUint(uint64(st.txPos), 10) + ":" + what,
			Source:          st.s.evSource,
			SpecVersion:     api.SpecVersion,
			Type:            TypeTx,
			Subject:         st.txID(),
			Time:            time.Unix(int64(h.Timestamp), 0),
			DataContentType: "application/json",
			Data:            data,
		},
		Partition: st.s.partition,
		Position:  appendStream(nil, st.txFile, st.txPos, st.txGTIDs, row),
	}
}
