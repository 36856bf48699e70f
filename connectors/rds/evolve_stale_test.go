package rds_test

import (
	"testing"

	"github.com/ferryhq/ferry/api"
)

// TestSchemaEvolutionStaleMetadata: a column added to the target by someone
// else after the sink cached the table's columns (an operator, or another
// task evolving the same table) must not fail the write with "Duplicate
// column name" — the sink re-reads the table and uses the column.
func TestSchemaEvolutionStaleMetadata(t *testing.T) {
	t.Parallel()
	tg, s := cdcTarget(t, map[string]string{"mode": "cdc"})
	mustWrite(t, s, []api.Record{change('c', "items", nil, map[string]any{"id": 1, "title": "a"}, 1)})
	tg.exec("ALTER TABLE items ADD COLUMN qty INT NULL, ADD COLUMN note TEXT NULL")
	mustWrite(t, s, []api.Record{
		change('c', "items", nil, map[string]any{"id": 2, "title": "b", "qty": 5, "note": "n", "extra": "e"}, 2),
	})
	if got := tg.dump2("SELECT id, title, qty, note, extra FROM items ORDER BY id"); got != "1|a|NULL|NULL|NULL\n2|b|5|n|e\n" {
		t.Errorf("items:\n%s", got)
	}
	if got := tg.dump2("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" + tg.name + "' AND TABLE_NAME = 'items' AND COLUMN_NAME = 'qty'"); got != "int(11)\n" {
		t.Errorf("qty redefined as %s; want the operator's int(11)", got)
	}
}
