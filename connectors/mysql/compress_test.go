package mysql_test

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/internal/testbed"

	cdc "github.com/ferryhq/ferry/connectors/mysql"
)

// TestCompressedBinlog streams from a MariaDB that compresses its binlog
// events (log_bin_compress, every event of 10 bytes or more): row events of
// every type must come out as the snapshot renders them, and a compressed
// DDL statement must become a ddl event.
func TestCompressedBinlog(t *testing.T) {
	t.Parallel()
	e := newEnvOn(t, testbed.ScratchMariaDB(t, "--log-bin-compress=ON", "--log-bin-compress-min-len=10"))
	var on string
	if err := e.db.QueryRow("SELECT @@log_bin_compress").Scan(&on); err != nil || on != "1" {
		t.Fatalf("log_bin_compress = %q (%v), want 1", on, err)
	}
	checkIdentical(t, e, "every", everyTable, everyRows, false)
	// Compressed row events of a table the stream could render from their
	// bytes go through go-mysql's decoding.
	checkIdentical(t, e, "every_direct", directTable, directRows(), false)

	src := mustOpen(t, e.config("snapshot.mode", "never"), nil)
	e.exec(t, "ALTER TABLE every ADD COLUMN added_by_a_compressed_statement INT DEFAULT 7",
		"UPDATE every SET ti = 5 WHERE id = 1")
	recs := readN(t, src, 2)
	if recs[0].Event.Type != cdc.TypeDDL || !strings.Contains(string(recs[0].Event.Data), "added_by_a_compressed_statement") {
		t.Errorf("record 0: %s %s; want the ALTER TABLE as a ddl event", recs[0].Event.Type, recs[0].Event.Data)
	}
	// The server really wrote compressed events of each kind.
	kinds := map[string]bool{}
	var file string
	if err := e.db.QueryRow("SHOW MASTER STATUS").Scan(&file, new(any), new(any), new(any)); err != nil {
		t.Fatal(err)
	}
	rows, err := e.db.Query("SHOW BINLOG EVENTS IN '" + file + "'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		if err := rows.Scan(new(any), new(any), &kind, new(any), new(any), new(any)); err != nil {
			t.Fatal(err)
		}
		kinds[kind] = true
	}
	for _, k := range []string{"Query_compressed", "Write_rows_compressed_v1", "Update_rows_compressed_v1", "Delete_rows_compressed_v1"} {
		if !kinds[k] {
			t.Errorf("the binlog holds no %s event; it has %v", k, kinds)
		}
	}
	if env := decode(t, recs[1]); env.Op != "u" || string(env.After["ti"]) != "5" || string(env.After["added_by_a_compressed_statement"]) != "7" {
		t.Errorf("record 1: %s; want the update with the added column", recs[1].Event.Data)
	}
}
