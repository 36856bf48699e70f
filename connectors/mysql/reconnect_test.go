package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/internal/testbed"
)

// TestReconnect kills the source's binlog connection on the server and
// checks that reading continues after the last record: no gap, no repeat.
func TestReconnect(t *testing.T) {
	t.Parallel()
	cfg := testbed.MySQL(t)
	name := testbed.Database(t, cfg, "ferry_cdc")
	db, err := sql.Open("mysql", cfg.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE " + name + ".r (id INT PRIMARY KEY)")

	c, err := spec.Parse(map[string]string{
		"database.hostname": cfg.Host, "database.port": strconv.Itoa(cfg.Port),
		"database.user": cfg.User, "database.password": cfg.Password,
		"database.include.list": name, "snapshot.mode": "never", "batch.size": "4",
	})
	if err != nil {
		t.Fatal(err)
	}
	src, err := newSource(api.TaskConfig{Connector: "reconnect", Tasks: 1, Config: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := src.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer src.Close(context.Background())
	s := src.(*source)

	exec("INSERT INTO " + name + ".r VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10)")
	got := []string{}
	errs := 0
	read := func(n int) {
		t.Helper()
		for len(got) < n {
			recs, err := src.Read(ctx)
			if err != nil {
				if api.IsFatal(err) || ctx.Err() != nil || errs > 5 {
					t.Fatalf("Read: %v", err)
				}
				errs++ // the engine retries a retryable Read
				continue
			}
			for _, r := range recs {
				got = append(got, r.Event.ID)
			}
		}
	}
	read(4) // stops inside the 10-row event
	exec(fmt.Sprintf("KILL %d", s.strm.syncer.LastConnectionID()))
	exec("INSERT INTO " + name + ".r VALUES (11)")
	read(11)
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("event %s delivered twice: %v", id, got)
		}
		seen[id] = true
	}
	if errs == 0 {
		t.Errorf("the killed connection never surfaced: the test did not exercise a restart")
	}
	if len(got) != 11 {
		t.Errorf("got %d events, want 11: %v", len(got), got)
	}
}
