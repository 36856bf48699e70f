package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/cputime"
)

// BenchmarkBinlog measures binlog → records throughput over an insert load
// of FERRY_CDC_BENCH_ROWS rows (default 100,000) written as 1,000-row
// INSERTs, and the raw go-mysql read rate of the same events as the
// ceiling, and the snapshot of the same table; "changes" reads a table
// laid out as the end-to-end CDC benchmark's (TestCDCToKafkaThroughput)
// under as many changes, half inserts, half updates. Besides rows/s each
// reports cpu-ns/row, the process's CPU (the binlog reader's goroutines
// included) per record:
//
//	go test -run XXX -bench Binlog -benchtime 3x -benchmem ./connectors/mysql/
func BenchmarkBinlog(b *testing.B) {
	rows := 100_000
	if v, err := strconv.Atoi(os.Getenv("FERRY_CDC_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	e := newEnv(b)
	e.exec(b, "CREATE TABLE bench (id INT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME(3), note TEXT)")
	var file string
	var pos uint32
	if err := e.db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, new(sql.NullString), new(sql.NullString)); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < rows; i += 1000 {
		q := []byte("INSERT INTO bench VALUES ")
		for j := i; j < min(i+1000, rows); j++ {
			if j > i {
				q = append(q, ',')
			}
			q = fmt.Appendf(q, "(%d,'name-%d',%d.%02d,'2024-05-06 07:08:09.123','note for row %d')", j, j, j, j%100, j)
		}
		e.exec(b, string(q))
	}
	start := fmt.Sprintf(`{"file":%q,"pos":%d}`, file, pos)
	e.exec(b, "CREATE TABLE changes (id INT PRIMARY KEY, name VARCHAR(64), n BIGINT, amount DECIMAL(12,2), ts DATETIME(6))")
	var cfile string
	var cpos uint32
	if err := e.db.QueryRow("SHOW MASTER STATUS").Scan(&cfile, &cpos, new(sql.NullString), new(sql.NullString)); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < rows/2; i += 1000 {
		q := []byte("INSERT INTO changes VALUES ")
		for j := i; j < min(i+1000, rows/2); j++ {
			if j > i {
				q = append(q, ',')
			}
			q = fmt.Appendf(q, "(%d,'name-%d',%d,%d.%02d,'2024-05-06 07:08:09.%06d')", j, j, j*7, j, j%100, j)
		}
		e.exec(b, string(q))
	}
	for i := 0; i < rows/2; i += 1000 {
		e.exec(b, fmt.Sprintf("UPDATE changes SET n = n + 1, amount = amount + 0.5, ts = ts + INTERVAL 1 SECOND WHERE id >= %d AND id < %d", i, i+1000))
	}
	changesStart := fmt.Sprintf(`{"file":%q,"pos":%d}`, cfile, cpos)
	readRecords := func(b *testing.B, table, start string, want int) {
		raw := e.config("snapshot.mode", "never", "gtid.mode", "off", "table.include.list", e.name+`\.`+table)
		b.ResetTimer()
		for range b.N {
			src := mustOpen(b, raw, map[string]api.Position{e.cfg.Addr(): api.Position(start)})
			t0, cpu0 := time.Now(), cputime.Self()
			n := 0
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			for n < want {
				batch, err := src.Read(ctx)
				if err != nil {
					b.Fatalf("Read after %d: %v", n, err)
				}
				n += len(batch)
			}
			cancel()
			b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "rows/s")
			b.ReportMetric(float64((cputime.Self()-cpu0).Nanoseconds())/float64(n), "cpu-ns/row")
			_ = src.Close(context.Background())
		}
	}

	b.Run("records", func(b *testing.B) { readRecords(b, "bench", start, rows) })
	b.Run("changes", func(b *testing.B) { readRecords(b, "changes", changesStart, rows/2*2) })
	b.Run("snapshot", func(b *testing.B) {
		raw := e.config("snapshot.mode", "initial_only", "table.include.list", e.name+`\.bench`)
		for range b.N {
			src := mustOpen(b, raw, nil)
			t0 := time.Now()
			n := readToEnd(b, src, 5*time.Minute)
			if n != rows {
				b.Fatalf("snapshot read %d rows, want %d", n, rows)
			}
			b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "rows/s")
			_ = src.Close(context.Background())
		}
	})
	b.Run("raw", func(b *testing.B) {
		for range b.N {
			syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
				ServerID: 1<<20 + rand.Uint32N(1<<30), Flavor: gmysql.MariaDBFlavor,
				Host: e.cfg.Host, Port: uint16(e.cfg.Port), User: e.cfg.User, Password: e.cfg.Password,
				EventCacheCount: 16, Logger: logger(b),
			})
			st, err := syncer.StartSync(gmysql.Position{Name: file, Pos: pos})
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			n := 0
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			for n < rows {
				ev, err := st.GetEvent(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if re, ok := ev.Event.(*replication.RowsEvent); ok && string(re.Table.Schema) == e.name {
					n += len(re.Rows)
				}
			}
			cancel()
			b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "rows/s")
			syncer.Close()
		}
	})
}

// BenchmarkSnapshotThreads measures the snapshot of four tables of
// FERRY_CDC_SNAP_ROWS rows each (default 250,000) with 1, 2 and 4 readers
// (snapshot.max.threads), in rows/s:
//
//	go test -run XXX -bench SnapshotThreads -benchtime 1x ./connectors/mysql/
func BenchmarkSnapshotThreads(b *testing.B) {
	rows := 250_000
	if v, err := strconv.Atoi(os.Getenv("FERRY_CDC_SNAP_ROWS")); err == nil && v > 0 {
		rows = v
	}
	const tables = 4
	e := newEnv(b)
	for t := range tables {
		e.exec(b, fmt.Sprintf("CREATE TABLE bench%d (id INT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME(3), note TEXT)", t))
		for i := 0; i < rows; i += 1000 {
			q := fmt.Appendf(nil, "INSERT INTO bench%d VALUES ", t)
			for j := i; j < min(i+1000, rows); j++ {
				if j > i {
					q = append(q, ',')
				}
				q = fmt.Appendf(q, "(%d,'name-%d',%d.%02d,'2024-05-06 07:08:09.123','note for row %d')", j, j, j, j%100, j)
			}
			e.exec(b, string(q))
		}
	}
	for _, threads := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			raw := e.config("snapshot.mode", "initial_only", "snapshot.max.threads", strconv.Itoa(threads))
			for range b.N {
				src := mustOpen(b, raw, nil)
				t0 := time.Now()
				n := readToEnd(b, src, 10*time.Minute)
				if n != tables*rows {
					b.Fatalf("snapshot read %d rows, want %d", n, tables*rows)
				}
				b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "rows/s")
				_ = src.Close(context.Background())
			}
		})
	}
}

// readToEnd reads src until ErrEndOfInput and returns how many records it
// read, failing b on any other error or after within.
func readToEnd(b *testing.B, src api.Source, within time.Duration) int {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	n := 0
	for {
		batch, err := src.Read(ctx)
		if errors.Is(err, api.ErrEndOfInput) {
			return n
		}
		if err != nil {
			b.Fatalf("Read after %d: %v", n, err)
		}
		n += len(batch)
	}
}
