package kafka

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
	"github.com/ferryhq/ferry/transform/template"
)

// The sink's parameters that may come from each event.
var (
	topicParam = template.ParamSpec{Name: "topic", Required: true,
		Description: "Destination topic."}
	keyParam = template.ParamSpec{Name: "key",
		Description: "Record key (bytes of the rendered text); default the record's key (a CDC source's primary key)."}
	partitionParam = template.ParamSpec{Name: "partition",
		Description: "With partitioner=manual: the partition, a decimal number below the topic's partition count."}
)

// Header parameters are declared by pattern: headers.<name> (a constant)
// or headers.<name>.form/.value/.template (from the event), one
// template.ParamSpec per name found in the config.
const (
	headersPrefix    = "headers."
	maxHeaders       = 64
	maxHeaderNameLen = 255
)

// Sizes and their bounds.
const (
	defaultMaxMessageBytes = 1 << 20 // the broker's default message.max.bytes, rounded down
	maxSizeBytes           = 256 << 20
)

var sinkSpec = func() api.Spec {
	s := slices.Clone(connSpec)
	s = append(s, topicParam.Fields()...)
	s = append(s, keyParam.Fields()...)
	s = append(s, api.Field{Name: headersPrefix, Prefix: true, Type: api.TypeString,
		Description: "headers.<name>=<constant> adds header <name> to every record; headers.<name>.form, .value and .template take it from the event like topic.form. " +
			"At most 64 headers; names of at most 255 characters from [A-Za-z0-9._:-], not ending in .form, .value or .template; with body=structured or binary not content-type nor ce_*."})
	s = append(s, kit.BodyField)
	s = append(s, partitionParam.Fields()...)
	return append(s, api.Spec{
		{Name: "acks", Type: api.TypeString, Default: "all", Enum: []string{"all", "1", "0"},
			Description: "Broker acknowledgements a write waits for: all (every in-sync replica), 1 (the leader), 0 (none: nothing is confirmed, failures are not seen)."},
		{Name: "compression", Type: api.TypeString, Default: "none", Enum: []string{"none", "gzip", "snappy", "lz4", "zstd"},
			Description: "Compression of each produce request's record batch."},
		{Name: "partitioner", Type: api.TypeString, Default: "hash", Enum: []string{"hash", "round-robin", "manual"},
			Description: "hash: murmur2 of the key modulo the partition count, as Kafka's Java producer, so a key keeps its partition and its order (records without a key go round-robin); round-robin: partitions in turn; manual: the partition parameter."},
		{Name: "batch.size", Type: api.TypeInt, Default: "1000", Check: api.Range(1, 100000),
			Description: "Most records in one produce request (one partition's record batch); a count, not bytes as the Java producer's batch.size."},
		{Name: "batch.bytes", Type: api.TypeInt, Default: strconv.Itoa(defaultMaxMessageBytes), Check: api.Range(1024, maxSizeBytes),
			Description: "Most bytes (uncompressed) in one produce request; a larger record goes alone."},
		{Name: "linger.ms", Type: api.TypeInt, Default: "0", Check: checkLinger,
			Description: "Must be 0: each write sends at once what the engine gives it and returns after the acks; batch on the engine side with batch.size (the envelope key) instead."},
		{Name: "max.message.bytes", Type: api.TypeInt, Default: strconv.Itoa(defaultMaxMessageBytes), Check: api.Range(1024, maxSizeBytes),
			Description: "Largest record (key, value, headers, framing) the sink sends; a larger one is rejected alone (dead-letter sink or task failure). Keep it at or below the topic's max.message.bytes."},
		{Name: "tombstones.on.delete", Type: api.TypeBool, Default: "true",
			Description: "After a delete event (op=d in a Debezium-style envelope) with a key, also write a tombstone (the key, a null value) so that compacted topics drop the key."},
		{Name: "topic.auto.create", Type: api.TypeBool, Default: "true",
			Description: "Ask the brokers to create a missing topic, as Kafka's producer does (they do only with auto.create.topics.enable=true). When false, a missing topic fails the task (a constant topic) or rejects the record (a topic from the event)."},
		{Name: "request.timeout", Type: api.TypeDuration, Default: "30s", Check: api.DurationRange(100*time.Millisecond, 5*time.Minute),
			Description: "Time one produce or metadata request may take before it counts as failed (and is retried by the engine)."},
		{Name: "send.parallelism", Type: api.TypeInt, Default: "16", Check: api.Range(1, 1024),
			Description: "Partitions written at once; one partition's requests always go one after another."},
	}...)
}()

func checkLinger(v string) error {
	if v != "0" {
		return errors.New("must be 0: the sink sends each batch the engine gives it at once and waits for the acks, so it never lingers; raise the connector's batch.size for bigger requests")
	}
	return nil
}

// validateSink checks what spans several fields: the connection, each
// parameter's form, the headers and the partitioner.
func validateSink(c api.Config) error {
	var fields []api.FieldError
	add := func(err error) error {
		var ve *api.ValidationError
		if errors.As(err, &ve) {
			fields = append(fields, ve.Fields...)
			return nil
		}
		return err
	}
	if err := add(validateConn(c)); err != nil {
		return err
	}
	params := []template.ParamSpec{topicParam, keyParam, partitionParam}
	for _, p := range params {
		compiled, err := p.Compile(c)
		if err != nil {
			if err := add(err); err != nil {
				return err
			}
			continue
		}
		if v, ok := compiled.Constant(); ok {
			field := p.Name
			if !c.Has(p.Name) {
				field = p.Name + ".value"
			}
			var err error
			switch p.Name {
			case topicParam.Name:
				err = kit.CheckTopic(v)
			case partitionParam.Name:
				_, err = parsePartition([]byte(v))
			}
			if err != nil {
				fields = append(fields, api.FieldError{Field: field, Message: err.Error()})
			}
		}
	}
	manual := c.String("partitioner") == "manual"
	hasPartition := c.Has(partitionParam.Name) || c.Has(partitionParam.Name+".form")
	switch {
	case manual && !hasPartition:
		fields = append(fields, api.FieldError{Field: "partition", Message: "is required with partitioner=manual: set partition or partition.form"})
	case !manual && hasPartition:
		field := partitionParam.Name
		if !c.Has(field) {
			field += ".form"
		}
		fields = append(fields, api.FieldError{Field: field, Message: "is set but partitioner is " + c.String("partitioner") + "; set partitioner=manual to use it"})
	}
	if _, err := compileHeaders(c); err != nil {
		if err := add(err); err != nil {
			return err
		}
	}
	if fields != nil {
		return &api.ValidationError{Fields: fields}
	}
	return nil
}

// header is one configured header.
type header struct {
	name  string
	value *template.Param
}

// compileHeaders finds the headers.<name> keys of c and compiles each
// name's parameter, in name order. The error is an *api.ValidationError.
func compileHeaders(c api.Config) ([]header, error) {
	names := map[string]string{} // name → a key that declares it
	for k := range c.Map() {
		rest, ok := strings.CutPrefix(k, headersPrefix)
		if !ok {
			continue
		}
		name := rest
		for _, suffix := range []string{".form", ".value", ".template"} {
			if n, ok := strings.CutSuffix(rest, suffix); ok {
				name = n
				break
			}
		}
		names[name] = k
	}
	if len(names) == 0 {
		return nil, nil
	}
	sorted := slices.Sorted(func(yield func(string) bool) {
		for n := range names {
			if !yield(n) {
				return
			}
		}
	})
	var fields []api.FieldError
	if len(sorted) > maxHeaders {
		return nil, &api.ValidationError{Fields: []api.FieldError{{Field: names[sorted[maxHeaders]],
			Message: fmt.Sprintf("at most %d headers (headers.<name>), got %d", maxHeaders, len(sorted))}}}
	}
	body := kit.BodyOf(c)
	out := make([]header, 0, len(sorted))
	for _, name := range sorted {
		if err := checkHeaderName(name, body); err != nil {
			fields = append(fields, api.FieldError{Field: names[name], Message: err.Error()})
			continue
		}
		p, err := template.ParamSpec{Name: headersPrefix + name}.Compile(c)
		if err != nil {
			var ve *api.ValidationError
			if !errors.As(err, &ve) {
				return nil, err
			}
			fields = append(fields, ve.Fields...)
			continue
		}
		out = append(out, header{name: name, value: p})
	}
	if fields != nil {
		return nil, &api.ValidationError{Fields: fields}
	}
	return out, nil
}

func checkHeaderName(name string, body kit.Body) error {
	switch {
	case name == "":
		return errors.New("header name is empty")
	case len(name) > maxHeaderNameLen:
		return fmt.Errorf("header name of %d bytes; at most %d", len(name), maxHeaderNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == ':') {
			return fmt.Errorf("header name %q has %q; allowed are letters, digits, '.', '_', ':' and '-'", name, c)
		}
	}
	if body != kit.BodyData && (strings.EqualFold(name, kit.Kafka.ContentTypeHeader()) || strings.HasPrefix(name, kit.Kafka.Prefix())) {
		return fmt.Errorf("header %s is written by body=%s; use body=data to set it yourself", name, body)
	}
	return nil
}

// parsePartition reads a manual partition number.
func parsePartition(b []byte) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q is not a partition number", errPartition, b)
	}
	return int(n), nil
}
