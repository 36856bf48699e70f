package api

import (
	"slices"
	"strings"
	"time"
)

// SpecVersion is the CloudEvents specification version Ferry produces.
const SpecVersion = "1.0"

// Event is a CloudEvents 1.0 event.
//
// Data holds the payload bytes. When DataContentType is empty or names JSON
// (application/json or any +json type), Data must be one JSON value and is
// carried inline as JSON; text/* data is carried as a JSON string and
// anything else as data_base64 in structured mode.
type Event struct {
	ID              string
	Source          string
	SpecVersion     string
	Type            string
	Subject         string
	Time            time.Time
	DataContentType string
	DataSchema      string
	Data            []byte
	// Extensions holds extension attributes. Values are string, bool,
	// int64, float64 or time.Time. Nil when there are none.
	Extensions map[string]any

	// dataJSON is the Data slice MarkDataJSON vouched for.
	dataJSON dataMark
}

// dataMark names a byte slice by the address of its first byte and its
// length.
type dataMark struct {
	first *byte
	n     int
}

// MarkDataJSON records that Data, as it is now, is exactly one valid JSON
// value, so that AppendJSON (and a sink that checks JSON data) does not
// validate it again: a sink spends a noticeable share of its CPU checking
// data that the source has just written itself. Call it only on data the
// caller rendered as JSON itself (a CDC source's change envelope), never
// on bytes received from outside.
//
// The mark belongs to the slice, not to the event: giving Data another
// slice (another array or another length) voids it, so transforms that
// replace Data need do nothing, and a copied event keeps the mark only
// while it shares the same bytes. Code that rewrites Data's bytes in place
// must leave them valid JSON or call ClearDataJSON. Empty Data is never
// marked.
func (e *Event) MarkDataJSON() {
	if len(e.Data) == 0 {
		e.dataJSON = dataMark{}
		return
	}
	e.dataJSON = dataMark{&e.Data[0], len(e.Data)}
}

// ClearDataJSON forgets MarkDataJSON's mark.
func (e *Event) ClearDataJSON() { e.dataJSON = dataMark{} }

// DataMarkedJSON reports whether Data is still the slice MarkDataJSON
// marked as valid JSON.
func (e *Event) DataMarkedJSON() bool {
	return len(e.Data) > 0 && e.dataJSON.n == len(e.Data) && e.dataJSON.first == &e.Data[0]
}

// SetExtension sets an extension attribute, allocating the map on first use.
func (e *Event) SetExtension(name string, value any) {
	if e.Extensions == nil {
		e.Extensions = make(map[string]any, 4)
	}
	e.Extensions[name] = value
}

// Position is a source-defined, opaque location within a partition.
type Position []byte

// Record is what flows through a task: a CloudEvent plus routing fields that
// never leave the worker.
type Record struct {
	Event Event
	// Key orders and partitions records in sinks that support it.
	Key []byte
	// Partition names the source partition the record came from (a file,
	// a queue, a binlog). Empty is a valid single partition.
	Partition string
	// Position is the record's location in Partition. A nil Position marks a
	// record that needs no commit (the engine still acknowledges it).
	Position Position
}

// Extension is one extension attribute of an event: its name and value.
type Extension struct {
	Name  string
	Value any
}

// SortedExtensions appends e's extension attributes to dst in name order:
// the encodings that write every extension write them in this order, so
// that one event always encodes to the same bytes (a map's own order
// changes from one iteration to the next). Passing a slice of a local
// array keeps the common case free of allocations.
func (e *Event) SortedExtensions(dst []Extension) []Extension {
	start := len(dst)
	for k, v := range e.Extensions {
		dst = append(dst, Extension{k, v})
	}
	switch n := len(dst) - start; {
	case n > 12:
		slices.SortFunc(dst[start:], func(a, b Extension) int { return strings.Compare(a.Name, b.Name) })
	case n > 1: // the usual few: an insertion sort, no call per comparison
		for i := start + 1; i < len(dst); i++ {
			for j := i; j > start && dst[j].Name < dst[j-1].Name; j-- {
				dst[j], dst[j-1] = dst[j-1], dst[j]
			}
		}
	}
	return dst
}

// Size returns an estimate of the record's memory footprint in bytes, used to
// bound in-flight memory.
func (r *Record) Size() int {
	e := &r.Event
	n := 128 + len(e.ID) + len(e.Source) + len(e.Type) + len(e.Subject) +
		len(e.DataContentType) + len(e.DataSchema) + len(e.Data) +
		len(r.Key) + len(r.Partition) + len(r.Position)
	for k, v := range e.Extensions {
		n += len(k) + 16
		if s, ok := v.(string); ok {
			n += len(s)
		}
	}
	return n
}

// Attribute returns a context attribute by its CloudEvents name: id,
// source, specversion (defaulted to SpecVersion), type, subject,
// datacontenttype or dataschema. An empty optional attribute is absent and
// returns "". isAttr is false for every other name (time, data,
// extensions), which callers resolve themselves.
func (e *Event) Attribute(name string) (value string, isAttr bool) {
	switch name {
	case "id":
		return e.ID, true
	case "source":
		return e.Source, true
	case "specversion":
		if e.SpecVersion == "" {
			return SpecVersion, true
		}
		return e.SpecVersion, true
	case "type":
		return e.Type, true
	case "subject":
		return e.Subject, true
	case "datacontenttype":
		return e.DataContentType, true
	case "dataschema":
		return e.DataSchema, true
	}
	return "", false
}
