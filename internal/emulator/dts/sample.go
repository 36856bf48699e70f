package dts

import (
	"fmt"
	"strconv"
	"time"
)

// SampleColumns is the table SampleChanges writes to: ferry.orders.
var SampleColumns = []Column{
	{Name: "id", Type: TypeLongLong},
	{Name: "customer", Type: TypeVarString},
	{Name: "amount", Type: TypeNewDecimal},
	{Name: "created_at", Type: TypeDateTime},
}

// SampleChanges returns n plausible changes, one second apart from start, for
// a fresh emulator to serve: a CREATE TABLE, then transactions that insert an
// order and update it (BEGIN, INSERT, UPDATE, COMMIT), with a HEARTBEAT after
// every third transaction. IDs are left 0 for Publish to assign.
func SampleChanges(n int, start time.Time) []Change {
	if n <= 0 {
		return nil
	}
	out := []Change{DDLChange(start, "ferry", "orders",
		"CREATE TABLE orders (id BIGINT PRIMARY KEY, customer VARCHAR(64), amount DECIMAL(12,2), created_at DATETIME(6))")}
	for tx := 1; len(out) < n; tx++ {
		txid := strconv.Itoa(tx)
		row := func(amount string) []Value {
			return []Value{Int(int64(tx)), Text(fmt.Sprintf("customer-%d", tx%7)), Dec(amount, 12, 2), DateTimeOf(start.UTC())}
		}
		batch := []Change{
			BeginTx(time.Time{}, txid),
			{Op: Insert, Database: "ferry", Table: "orders", Columns: SampleColumns,
				After: row(fmt.Sprintf("%d.00", tx)), Txid: txid},
			{Op: Update, Database: "ferry", Table: "orders", Columns: SampleColumns,
				Before: row(fmt.Sprintf("%d.00", tx)), After: row(fmt.Sprintf("%d.50", tx)), Txid: txid},
			CommitTx(time.Time{}, txid),
		}
		if tx%3 == 0 {
			batch = append(batch, HeartbeatAt(time.Time{}))
		}
		for _, c := range batch {
			if len(out) == n {
				break
			}
			// One second apart, and a binlog-like position per row change.
			c.Timestamp = start.Add(time.Duration(len(out)) * time.Second)
			if c.Op == Insert || c.Op == Update {
				c.Position = fmt.Sprintf("%d@1", 4+len(out)*100)
			}
			out = append(out, c)
		}
	}
	return out
}
