package dts

import (
	_ "embed"
	"fmt"

	"github.com/hamba/avro/v2"
)

// schemaText is DTS's published Record.avsc: a JSON array of the named
// value types followed by Record. The emulator (internal/emulator/dts)
// writes with the same file; a test keeps the two copies identical.
//
//go:embed record.avsc
var schemaText []byte

const namespace = "com.alibaba.dts.formats.avro."

var (
	recordSchema avro.Schema
	// codec is a private hamba configuration, so the union types
	// registered here do not collide with the process-wide registry.
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
		// A branch we have no type for must be an error, never a map.
		UnionResolutionError: true,
		// Bound what a corrupt value can make the decoder allocate.
		MaxByteSliceSize:  16 << 20,
		MaxSliceAllocSize: 16 << 20,
	}.Freeze()
	codec.Register("array:"+namespace+"Field", []field(nil))
	codec.Register("array:union", []any(nil))
	for name, v := range map[string]any{
		"Integer":               integerValue{},
		"Character":             characterValue{},
		"Decimal":               decimalValue{},
		"Float":                 floatValue{},
		"Timestamp":             timestampValue{},
		"DateTime":              dateTimeValue{},
		"TimestampWithTimeZone": timestampTZValue{},
		"BinaryGeometry":        binaryGeometryValue{},
		"TextGeometry":          textGeometryValue{},
		"BinaryObject":          binaryObjectValue{},
		"TextObject":            textObjectValue{},
		"EmptyObject":           emptyObject(""),
	} {
		codec.Register(namespace+name, v)
	}
}

// record is com.alibaba.dts.formats.avro.Record. The multi-branch unions
// are typed any: nil, string, or a slice ([]field for fields; []any of the
// value types below for the images).
type record struct {
	Version            int32             `avro:"version"`
	ID                 int64             `avro:"id"`
	SourceTimestamp    int64             `avro:"sourceTimestamp"`
	SourcePosition     string            `avro:"sourcePosition"`
	SafeSourcePosition string            `avro:"safeSourcePosition"`
	SourceTxid         string            `avro:"sourceTxid"`
	Source             recordSource      `avro:"source"`
	Operation          string            `avro:"operation"`
	ObjectName         *string           `avro:"objectName"`
	ProcessTimestamps  []int64           `avro:"processTimestamps"`
	Tags               map[string]string `avro:"tags"`
	Fields             any               `avro:"fields"`
	BeforeImages       any               `avro:"beforeImages"`
	AfterImages        any               `avro:"afterImages"`
	BornTimestamp      int64             `avro:"bornTimestamp"`
}

type recordSource struct {
	Type    string `avro:"sourceType"`
	Version string `avro:"version"`
}

type field struct {
	Name           string `avro:"name"`
	DataTypeNumber int32  `avro:"dataTypeNumber"`
}

// The value records of the images, one Go type per Avro record.
type (
	integerValue struct {
		Precision int32  `avro:"precision"`
		Value     string `avro:"value"`
	}
	characterValue struct {
		Charset string `avro:"charset"`
		Value   []byte `avro:"value"`
	}
	decimalValue struct {
		Value     string `avro:"value"`
		Precision int32  `avro:"precision"`
		Scale     int32  `avro:"scale"`
	}
	floatValue struct {
		Value     float64 `avro:"value"`
		Precision int32   `avro:"precision"`
		Scale     int32   `avro:"scale"`
	}
	// timestampValue's Millis holds MICROseconds, as DTS fills it.
	timestampValue struct {
		Timestamp int64 `avro:"timestamp"`
		Millis    int32 `avro:"millis"`
	}
	dateTimeValue struct {
		Year   *int32 `avro:"year"`
		Month  *int32 `avro:"month"`
		Day    *int32 `avro:"day"`
		Hour   *int32 `avro:"hour"`
		Minute *int32 `avro:"minute"`
		Second *int32 `avro:"second"`
		Millis *int32 `avro:"millis"` // microseconds
	}
	timestampTZValue struct {
		Value    dateTimeValue `avro:"value"`
		Timezone string        `avro:"timezone"`
	}
	binaryGeometryValue struct {
		Type  string `avro:"type"`
		Value []byte `avro:"value"`
	}
	textGeometryValue struct {
		Type  string `avro:"type"`
		Value string `avro:"value"`
	}
	binaryObjectValue struct {
		Type  string `avro:"type"`
		Value []byte `avro:"value"`
	}
	textObjectValue struct {
		Type  string `avro:"type"`
		Value string `avro:"value"`
	}
	// emptyObject is DTS's NULL/NONE marker: a value that carries nothing.
	emptyObject string
)

// decodeRecord reads one Kafka record value as a DTS Record into r (reset
// first). Anything that is not exactly one such record is ErrMalformed;
// it never panics.
func decodeRecord(rd *avro.Reader, b []byte, r *record) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrMalformed, p)
		}
	}()
	*r = record{}
	rd.Reset(b)
	rd.ReadVal(recordSchema, r)
	if rd.Error != nil {
		err := rd.Error
		rd.Error = nil
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if rd.Peek(); rd.Error == nil {
		return fmt.Errorf("%w: trailing bytes after the record", ErrMalformed)
	}
	rd.Error = nil
	return nil
}

// newReader returns a reader decodeRecord can reuse.
func newReader() *avro.Reader { return avro.NewReader(nil, 0, avro.WithReaderConfig(codec)) }

// Schema returns the DTS Record schema the source decodes with (Avro JSON).
func Schema() []byte { return append([]byte(nil), schemaText...) }
