package dts

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// Field is one entry of Record.fields: a column name and its MySQL type number.
type Field struct {
	Name           string `avro:"name"`
	DataTypeNumber int32  `avro:"dataTypeNumber"`
}

// Source is Record.source: which database product produced the change.
type Source struct {
	Type    SourceType `avro:"sourceType"`
	Version string     `avro:"version"`
}

// SourceType is the Record.source.sourceType enum.
type SourceType string

// Source types DTS names in its schema.
const (
	SourceMySQL      SourceType = "MySQL"
	SourceOracle     SourceType = "Oracle"
	SourceSQLServer  SourceType = "SQLServer"
	SourcePostgreSQL SourceType = "PostgreSQL"
	SourceMongoDB    SourceType = "MongoDB"
	SourceRedis      SourceType = "Redis"
	SourceDB2        SourceType = "DB2"
	SourcePPAS       SourceType = "PPAS"
	SourceDRDS       SourceType = "DRDS"
	SourceHBase      SourceType = "HBASE"
	SourceHDFS       SourceType = "HDFS"
	SourceFile       SourceType = "FILE"
	SourceOther      SourceType = "OTHER"
)

// Operation is the Record.operation enum.
type Operation string

// Operations DTS names in its schema. Emulated changes use Insert, Update,
// Delete, DDL, Begin, Commit and Heartbeat; the rest encode and decode too.
const (
	Insert     Operation = "INSERT"
	Update     Operation = "UPDATE"
	Delete     Operation = "DELETE"
	DDL        Operation = "DDL"
	Begin      Operation = "BEGIN"
	Commit     Operation = "COMMIT"
	Rollback   Operation = "ROLLBACK"
	Abort      Operation = "ABORT"
	Heartbeat  Operation = "HEARTBEAT"
	Checkpoint Operation = "CHECKPOINT"
	Command    Operation = "COMMAND"
	Fill       Operation = "FILL"
	Finish     Operation = "FINISH"
	Control    Operation = "CONTROL"
	RDB        Operation = "RDB"
	Noop       Operation = "NOOP"
	Init       Operation = "INIT"
)

// recordVersion is the Record.version Ferry writes.
const recordVersion = 1

// record is the wire form of com.alibaba.dts.formats.avro.Record. The three
// multi-branch unions are typed any: nil (null), string, or a slice
// ([]Field for fields; []any of Value types for the images).
type record struct {
	Version            int32             `avro:"version"`
	ID                 int64             `avro:"id"`
	SourceTimestamp    int64             `avro:"sourceTimestamp"`
	SourcePosition     string            `avro:"sourcePosition"`
	SafeSourcePosition string            `avro:"safeSourcePosition"`
	SourceTxid         string            `avro:"sourceTxid"`
	Source             Source            `avro:"source"`
	Operation          Operation         `avro:"operation"`
	ObjectName         *string           `avro:"objectName"`
	ProcessTimestamps  []int64           `avro:"processTimestamps"`
	Tags               map[string]string `avro:"tags"`
	Fields             any               `avro:"fields"`
	BeforeImages       any               `avro:"beforeImages"`
	AfterImages        any               `avro:"afterImages"`
	BornTimestamp      int64             `avro:"bornTimestamp"`
}

func marshalRecord(r *record) ([]byte, error) {
	b, err := codec.Marshal(recordSchema, r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidChange, err)
	}
	return b, nil
}

func unmarshalRecord(b []byte) (r *record, err error) {
	// The reflection decoder reports garbage as errors, but a corrupt value
	// must never take the consumer down with it.
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("%w: %v", ErrMalformedRecord, p)
		}
	}()
	// codec.Unmarshal treats running out of input as success, so read with
	// our own Reader: end of input inside the record is an error, and so
	// are bytes left after it (a Kafka value holds exactly one record).
	rd := avro.NewReader(nil, 0, avro.WithReaderConfig(codec)).Reset(b)
	r = new(record)
	rd.ReadVal(recordSchema, r)
	if rd.Error != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedRecord, rd.Error)
	}
	if rd.Peek(); rd.Error == nil {
		return nil, fmt.Errorf("%w: trailing bytes after the record", ErrMalformedRecord)
	}
	return r, nil
}
