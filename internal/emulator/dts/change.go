package dts

import (
	"fmt"
	"maps"
	"strings"
	"time"
)

// Change is one DTS record in row terms.
//
// Before and After are positional row images aligned with Columns: nil means
// the image is absent (INSERT has no Before, DELETE no After); a nil element is
// SQL NULL. Timestamp is the source event time: the record carries it as Unix
// seconds (sourceTimestamp, also the Kafka record timestamp) and as Unix
// milliseconds (bornTimestamp), so it round-trips at millisecond precision.
type Change struct {
	// ID is Record.id, the record's sequence in the whole subscription.
	// Publish assigns the next one when it is 0.
	ID int64
	Op Operation
	// Database and Table form Record.objectName "db.table" (just "db" when
	// Table is empty, null when both are).
	Database string
	Table    string
	Columns  []Column
	Before   []Value
	After    []Value
	// DDL is the statement of a DDL change, sent as the string branch of
	// afterImages.
	DDL       string
	Timestamp time.Time
	// Txid is Record.sourceTxid: the source transaction (often "0" or a GTID).
	Txid string
	// Position and SafePosition are Record.sourcePosition and
	// safeSourcePosition, opaque resume points in the source log.
	Position     string
	SafePosition string
	// Source is the producing database; the zero value means MySQL 8.0.
	Source Source
	Tags   map[string]string
}

// Column names one column of Change images and its MySQL type number.
type Column struct {
	Name string
	Type ColumnType
}

// DefaultSource is what Encode writes when Change.Source is zero.
var DefaultSource = Source{Type: SourceMySQL, Version: "8.0"}

// BeginTx returns the BEGIN record DTS sends before a transaction's rows.
func BeginTx(at time.Time, txid string) Change { return Change{Op: Begin, Timestamp: at, Txid: txid} }

// CommitTx returns the COMMIT record DTS sends after a transaction's rows.
func CommitTx(at time.Time, txid string) Change {
	return Change{Op: Commit, Timestamp: at, Txid: txid}
}

// HeartbeatAt returns a HEARTBEAT record: DTS sends one periodically so a
// reader's position advances while the source is idle.
func HeartbeatAt(at time.Time) Change { return Change{Op: Heartbeat, Timestamp: at} }

// DDLChange returns a DDL record for stmt run in database (table may be empty).
func DDLChange(at time.Time, database, table, stmt string) Change {
	return Change{Op: DDL, Database: database, Table: table, DDL: stmt, Timestamp: at}
}

// Encode returns c as an Avro-encoded DTS Record, or ErrInvalidChange if c is
// not a record DTS would send (images that do not match Columns, a value of
// the wrong record type for its column, a row change without a table).
func Encode(c Change) ([]byte, error) {
	r, err := toRecord(c)
	if err != nil {
		return nil, err
	}
	return marshalRecord(r)
}

// Decode parses an Avro-encoded DTS Record into a Change. Bytes that are not
// such a record yield ErrMalformedRecord; Decode never panics.
func Decode(b []byte) (Change, error) {
	r, err := unmarshalRecord(b)
	if err != nil {
		return Change{}, err
	}
	return fromRecord(r)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidChange, fmt.Sprintf(format, args...))
}

func toRecord(c Change) (*record, error) {
	if c.Op == "" {
		return nil, invalid("no operation")
	}
	if err := checkShape(c); err != nil {
		return nil, err
	}
	src := c.Source
	if src == (Source{}) {
		src = DefaultSource
	}
	r := &record{
		Version:            recordVersion,
		ID:                 c.ID,
		SourceTimestamp:    c.Timestamp.Unix(),
		SourcePosition:     c.Position,
		SafeSourcePosition: c.SafePosition,
		SourceTxid:         c.Txid,
		Source:             src,
		Operation:          c.Op,
		Tags:               map[string]string{},
		BornTimestamp:      c.Timestamp.UnixMilli(),
	}
	maps.Copy(r.Tags, c.Tags)
	if c.Database != "" || c.Table != "" {
		name := c.Database
		if c.Table != "" {
			name += "." + c.Table
		}
		r.ObjectName = &name
	}
	if c.Columns != nil {
		fields := make([]Field, len(c.Columns))
		for i, col := range c.Columns {
			fields[i] = Field{Name: col.Name, DataTypeNumber: int32(col.Type)}
		}
		r.Fields = fields
	}
	if c.Before != nil {
		r.BeforeImages = toImage(c.Before)
	}
	switch {
	case c.Op == DDL:
		r.AfterImages = c.DDL
	case c.After != nil:
		r.AfterImages = toImage(c.After)
	}
	return r, nil
}

// checkShape rejects changes a real DTS stream never carries, so tests built
// on the emulator cannot depend on records Ferry would never see.
func checkShape(c Change) error {
	switch c.Op {
	case Insert, Update, Delete:
		if c.Database == "" || c.Table == "" {
			return invalid("%s needs a database and a table", c.Op)
		}
		if len(c.Columns) == 0 {
			return invalid("%s needs columns", c.Op)
		}
		wantBefore, wantAfter := c.Op != Insert, c.Op != Delete
		if (c.Before != nil) != wantBefore || (c.After != nil) != wantAfter {
			return invalid("%s needs before image %t and after image %t", c.Op, wantBefore, wantAfter)
		}
	case DDL:
		if c.DDL == "" {
			return invalid("DDL needs a statement")
		}
		if c.Columns != nil || c.Before != nil || c.After != nil {
			return invalid("DDL carries no columns or row images")
		}
	default:
		if c.DDL != "" {
			return invalid("%s carries no DDL statement", c.Op)
		}
	}
	for _, img := range []struct {
		name string
		row  []Value
	}{{"before", c.Before}, {"after", c.After}} {
		if img.row == nil {
			continue
		}
		if len(img.row) != len(c.Columns) {
			return invalid("%s image has %d values for %d columns", img.name, len(img.row), len(c.Columns))
		}
		for i, v := range img.row {
			if !fits(c.Columns[i].Type, v) {
				return invalid("%s image column %q (type %d) cannot hold %T", img.name, c.Columns[i].Name, c.Columns[i].Type, v)
			}
		}
	}
	return nil
}

func toImage(row []Value) []any {
	out := make([]any, len(row))
	for i, v := range row {
		if v != nil {
			out[i] = v
		}
	}
	return out
}

func fromRecord(r *record) (Change, error) {
	c := Change{
		ID:           r.ID,
		Op:           r.Operation,
		Txid:         r.SourceTxid,
		Position:     r.SourcePosition,
		SafePosition: r.SafeSourcePosition,
		Source:       r.Source,
	}
	if c.Source == DefaultSource {
		c.Source = Source{}
	}
	// bornTimestamp is 0 in records from writers that predate it.
	c.Timestamp = time.UnixMilli(r.BornTimestamp).UTC()
	if r.BornTimestamp == 0 {
		c.Timestamp = time.Unix(r.SourceTimestamp, 0).UTC()
	}
	if len(r.Tags) > 0 {
		c.Tags = r.Tags
	}
	if r.ObjectName != nil {
		c.Database, c.Table, _ = strings.Cut(*r.ObjectName, ".")
	}
	switch f := r.Fields.(type) {
	case nil:
	case []Field:
		c.Columns = make([]Column, len(f))
		for i, fd := range f {
			c.Columns[i] = Column{Name: fd.Name, Type: ColumnType(fd.DataTypeNumber)}
		}
	default:
		return Change{}, fmt.Errorf("%w: fields as %T", ErrMalformedRecord, f)
	}
	var err error
	if c.Before, err = fromImage(r.BeforeImages, len(c.Columns)); err != nil {
		return Change{}, fmt.Errorf("before image: %w", err)
	}
	if s, ok := r.AfterImages.(string); ok && c.Op == DDL {
		c.DDL = s
	} else if c.After, err = fromImage(r.AfterImages, len(c.Columns)); err != nil {
		return Change{}, fmt.Errorf("after image: %w", err)
	}
	return c, nil
}

func fromImage(img any, ncols int) ([]Value, error) {
	switch img := img.(type) {
	case nil:
		return nil, nil
	case []any:
		if len(img) != ncols {
			return nil, fmt.Errorf("%w: %d values for %d fields", ErrMalformedRecord, len(img), ncols)
		}
		row := make([]Value, len(img))
		for i, v := range img {
			if v == nil {
				continue
			}
			val, ok := v.(Value)
			if !ok {
				return nil, fmt.Errorf("%w: value %d is %T", ErrMalformedRecord, i, v)
			}
			row[i] = val
		}
		return row, nil
	default:
		return nil, fmt.Errorf("%w: image as %T", ErrMalformedRecord, img)
	}
}
