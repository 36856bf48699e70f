package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	drv "github.com/go-sql-driver/mysql"

	"github.com/ferryhq/ferry/api"
)

// Source is the mysql-cdc source plugin.
var Source = api.SourcePlugin{
	Name:    "mysql-cdc",
	Summary: "Change data capture from MySQL and MariaDB binlogs: a consistent snapshot, then every row change as a Debezium-shaped CloudEvent.",
	Spec:    spec,
	New:     newSource,
	Plan:    plan,
}

// plan runs one task whatever tasks.max says: a binlog is one ordered
// stream.
func plan(c api.Config, maxTasks int) ([]map[string]string, error) {
	return []map[string]string{{}}, nil
}

// phase is what Read does next.
type phase int

const (
	phaseSnapshot phase = iota // reading snapshot chunks
	phaseHandover              // snapshot read; waiting for its acks
	phaseStream                // following the binlog
	phaseDone                  // initial_only finished
)

type source struct {
	cfg       *settings
	log       *slog.Logger
	warn      func(msg string, args ...any) // api.TaskConfig.Warn: logged and shown in the task status
	connector string
	partition string // host:port
	evSource  string
	committed *position

	db   *sql.DB
	info *serverInfo
	// lockFreeAttempts is lockFreeAttempts, lowered by tests.
	lockFreeAttempts int

	phase phase
	snap  *snapshotter
	strm  *stream
	// snapQueries counts the snapshot's chunk SELECTs per table since
	// Open; it is only touched by Read, and shows a resumed snapshot
	// skipping what was done.
	snapQueries map[string]int

	// Acks arrive on the engine's goroutine; ackMu guards acked.
	ackMu    sync.Mutex
	acked    api.Position
	ackCh    chan struct{} // buffered 1: "an ack arrived"
	lastSnap api.Position  // position of the last snapshot record read

	handoverFrom *position    // binlog position the snapshot saw
	streamFrom   *position    // where streaming began
	lastPos      api.Position // position of the last record Read returned
}

func newSource(tc api.TaskConfig) (api.Source, error) {
	cfg, err := parseSettings(tc.Config)
	if err != nil {
		return nil, err
	}
	log := tc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &source{
		cfg:       cfg,
		log:       log,
		warn:      tc.Warn,
		connector: tc.Connector,
		partition: net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)),
		evSource:  "/ferry/mysql-cdc/" + tc.Connector,
		ackCh:     make(chan struct{}, 1),

		lockFreeAttempts: lockFreeAttempts,
	}
	if p, ok := tc.Committed[s.partition]; ok && len(p) > 0 {
		if s.committed, err = decodePosition(p); err != nil {
			return nil, api.Fatal(err)
		}
	}
	return s, nil
}

func (s *source) dsn() string {
	c := drv.NewConfig()
	c.User, c.Passwd = s.cfg.user, s.cfg.password
	c.Net, c.Addr = "tcp", s.partition
	c.Timeout = s.cfg.connectTimeout
	// TIMESTAMP values are read in UTC, as the binlog decoder renders them.
	c.Params = map[string]string{"time_zone": "'+00:00'"}
	return c.FormatDSN()
}

func (s *source) Open(ctx context.Context) error {
	// The engine calls Open again after a failed Open: start clean.
	_ = s.Close(ctx)
	s.phase, s.lastPos, s.lastSnap, s.handoverFrom, s.streamFrom = phaseSnapshot, nil, nil, nil, nil
	s.snapQueries = map[string]int{}
	db, err := sql.Open("mysql", s.dsn())
	if err != nil {
		return api.Fatal(fmt.Errorf("mysql-cdc: %w", err))
	}
	// The snapshot pins one connection per reader; one more serves the
	// queries beside them.
	db.SetMaxOpenConns(max(4, s.cfg.threads+1))
	s.db = db
	if err := db.PingContext(ctx); err != nil {
		return s.classify(fmt.Errorf("mysql-cdc: connect to %s: %w", s.partition, err))
	}
	if s.info, err = check(ctx, db, s.cfg); err != nil {
		return s.classify(err)
	}
	mode := s.cfg.snapshotMode
	switch {
	case s.committed != nil && s.committed.Snapshot != nil:
		return s.startSnapshot(ctx, s.committed)
	case s.committed != nil:
		if mode == SnapshotInitialOnly {
			s.phase = phaseDone
			return nil
		}
		purged, err := s.purged(ctx, s.committed.File)
		if err != nil {
			return s.classify(err)
		}
		if purged {
			if mode == SnapshotWhenNeeded {
				s.log.Warn("stored binlog position purged; taking a new snapshot", "file", s.committed.File)
				return s.startSnapshot(ctx, nil)
			}
			return api.Fatal(fmt.Errorf("%w: %s is no longer on the server (see SHOW BINARY LOGS); set source.snapshot.mode=when_needed to take a new snapshot automatically, or delete the connector's offsets to start over",
				ErrPurged, s.committed.File))
		}
		return s.startStream(ctx, s.committed)
	case mode == SnapshotNever:
		p, err := masterStatus(ctx, db, s.info.flavor, s.info.gtid)
		if err != nil {
			return s.classify(err)
		}
		return s.startStream(ctx, p)
	default:
		return s.startSnapshot(ctx, nil)
	}
}

// classify marks the start-up check failures fatal and leaves I/O errors
// retryable.
func (s *source) classify(err error) error {
	for _, f := range []error{ErrBinlogDisabled, ErrBinlogFormat, ErrRowImage, ErrRowMetadata, ErrPrivileges, ErrPurged, ErrBadPosition, ErrDecode, ErrLockingMode} {
		if errors.Is(err, f) {
			return api.Fatal(err)
		}
	}
	var code uint16
	var me *drv.MySQLError
	var ge *gmysql.MyError
	switch {
	case errors.As(err, &me):
		code = me.Number
	case errors.As(err, &ge):
		code = ge.Code
	}
	switch code {
	case 1236: // the binlog dump cannot continue, usually a purged file
		return api.Fatal(fmt.Errorf("%w (server error 1236: %w); set source.snapshot.mode=when_needed to take a new snapshot when the position is gone", ErrPurged, err))
	case 1044, 1045, 1142, 1227: // access denied, bad password, missing privilege
		return api.Fatal(err)
	}
	return err
}

func (s *source) purged(ctx context.Context, file string) (bool, error) {
	if file == "" {
		return false, nil
	}
	files, err := binlogFiles(ctx, s.db)
	if err != nil {
		return false, err
	}
	return !slices.Contains(files, file), nil
}

func (s *source) startSnapshot(ctx context.Context, resume *position) error {
	snap, err := newSnapshotter(ctx, s, resume)
	if err != nil {
		return s.classify(err)
	}
	s.snap = snap
	s.phase = phaseSnapshot
	return nil
}

func (s *source) startStream(ctx context.Context, from *position) error {
	st, err := newStream(s, from)
	if err != nil {
		return s.classify(err)
	}
	s.strm = st
	s.streamFrom = from
	s.phase = phaseStream
	return nil
}

func (s *source) Read(ctx context.Context) ([]api.Record, error) {
	recs, err := s.read(ctx)
	if len(recs) > 0 {
		s.lastPos = recs[len(recs)-1].Position
	}
	return recs, err
}

func (s *source) read(ctx context.Context) ([]api.Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch s.phase {
		case phaseSnapshot:
			if s.snap == nil { // a failed Read tore it down: resume it
				if err := s.startSnapshot(ctx, s.resumePoint()); err != nil {
					return nil, err
				}
			}
			recs, done, err := s.snap.read(ctx)
			if err != nil {
				// The pinned connection may be gone (a cancelled query
				// closes it): the next Read resumes after the last record.
				s.snap.close()
				s.snap = nil
				return nil, s.classify(err)
			}
			if done {
				start := s.snap.start
				s.log.Info("snapshot read", "tables", len(s.snap.tables), "rows", s.snap.rows,
					"queries", s.snap.queries, "seconds", time.Since(s.snap.ts).Seconds())
				s.snap.close()
				s.snap = nil
				if s.cfg.snapshotMode == SnapshotInitialOnly {
					s.phase = phaseDone
				} else {
					s.phase = phaseHandover
					s.handoverFrom = start
				}
			}
			if len(recs) > 0 {
				s.lastSnap = recs[len(recs)-1].Position
				return recs, nil
			}
		case phaseHandover:
			if err := s.waitAcked(ctx, s.lastSnap); err != nil {
				return nil, err
			}
			from := *s.handoverFrom
			from.Snapshot = nil
			if err := s.startStream(ctx, &from); err != nil {
				return nil, err
			}
		case phaseStream:
			if s.strm == nil {
				if err := s.startStream(ctx, s.resumePoint()); err != nil {
					return nil, err
				}
			}
			recs, err := s.strm.read(ctx)
			if err != nil && ctx.Err() == nil {
				// The syncer gave up; the next Read reconnects after the
				// last record.
				s.strm.close()
				s.strm = nil
				return nil, s.classify(err)
			}
			return recs, err
		case phaseDone:
			return nil, api.ErrEndOfInput
		}
	}
}

// resumePoint is where a torn-down snapshot or stream restarts: after the
// last record Read returned, else where this phase began.
func (s *source) resumePoint() *position {
	if s.lastPos != nil {
		if p, err := decodePosition(s.lastPos); err == nil {
			if s.phase == phaseSnapshot || p.Snapshot == nil {
				return p
			}
		}
	}
	if s.phase == phaseStream {
		return s.streamFrom
	}
	if s.committed != nil && s.committed.Snapshot != nil {
		return s.committed
	}
	return nil
}

// waitAcked blocks until the engine acknowledged pos (nil: nothing to
// wait for).
func (s *source) waitAcked(ctx context.Context, pos api.Position) error {
	for pos != nil {
		s.ackMu.Lock()
		done := bytes.Equal(s.acked, pos)
		s.ackMu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ackCh:
		}
	}
	return nil
}

// Ack records the engine's acknowledgement; the snapshot hands over to
// streaming only once its last record is acknowledged.
func (s *source) Ack(ctx context.Context, partition string, pos api.Position) error {
	if partition != s.partition {
		return nil
	}
	s.ackMu.Lock()
	s.acked = append(s.acked[:0], pos...)
	s.ackMu.Unlock()
	select {
	case s.ackCh <- struct{}{}:
	default:
	}
	return nil
}

func (s *source) Close(ctx context.Context) error {
	if s.snap != nil {
		s.snap.close()
		s.snap = nil
	}
	if s.strm != nil {
		s.strm.close()
		s.strm = nil
	}
	if s.db != nil {
		err := s.db.Close()
		s.db = nil
		return err
	}
	return nil
}

// randomServerID picks a replica id unlikely to collide with real servers
// or other connectors.
func randomServerID() uint32 { return 1<<20 + rand.Uint32N(1<<30) }
