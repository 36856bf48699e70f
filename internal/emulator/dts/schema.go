package dts

import (
	_ "embed"
	"fmt"

	"github.com/hamba/avro/v2"
)

// schemaText is Ferry's copy of DTS's Record.avsc: a JSON array of the named
// value types followed by Record. Field names, order and union branch order
// are DTS's, so the bytes we write decode with DTS's own Record class.
//
//go:embed record.avsc
var schemaText []byte

const namespace = "com.alibaba.dts.formats.avro."

var (
	// recordSchema is the com.alibaba.dts.formats.avro.Record schema.
	recordSchema avro.Schema
	// codec is a private hamba configuration, so our union type names do
	// not leak into (or collide with) the process-wide default registry.
	codec avro.API
)

func init() {
	s, err := avro.ParseBytesWithCache(schemaText, "", &avro.SchemaCache{})
	if err != nil {
		panic(fmt.Sprintf("dts: embedded schema: %v", err))
	}
	u, ok := s.(*avro.UnionSchema)
	if !ok {
		panic("dts: embedded schema is not a list of types")
	}
	for _, t := range u.Types() {
		if n, ok := t.(avro.NamedSchema); ok && n.FullName() == namespace+"Record" {
			recordSchema = t
		}
	}
	if recordSchema == nil {
		panic("dts: embedded schema has no Record")
	}

	codec = avro.Config{
		// Java's BinaryEncoder writes array and map blocks without the
		// optional byte-size header; match it so any Avro reader copes.
		DisableBlockSizeHeader: true,
		// An undecodable branch must be an error, never a generic map.
		UnionResolutionError: true,
		// Bound what garbage input can make the decoder allocate: a Kafka
		// record value is at most a few MiB.
		MaxByteSliceSize:  16 << 20,
		MaxSliceAllocSize: 16 << 20,
	}.Freeze()
	// Union branches decode into these Go types, and encoding finds the
	// branch by the Go type of the value.
	codec.Register("array:"+namespace+"Field", []Field(nil))
	codec.Register("array:union", []any(nil))
	for name, v := range map[string]any{
		"Integer":               Integer{},
		"Character":             Character{},
		"Decimal":               Decimal{},
		"Float":                 Float{},
		"Timestamp":             Timestamp{},
		"DateTime":              DateTime{},
		"TimestampWithTimeZone": TimestampWithTimeZone{},
		"BinaryGeometry":        BinaryGeometry{},
		"TextGeometry":          TextGeometry{},
		"BinaryObject":          BinaryObject{},
		"TextObject":            TextObject{},
		"EmptyObject":           EmptyObject(""),
	} {
		codec.Register(namespace+name, v)
	}
}

// Schema returns the DTS Record schema as Avro JSON (the .avsc this package
// embeds), for tools that want to decode with another Avro library.
func Schema() []byte { return append([]byte(nil), schemaText...) }
