package template

import (
	"fmt"
	"strings"

	"github.com/ohler55/ojg/jp"
)

// pathKind says where a compiled JSONPath reads from.
type pathKind uint8

const (
	pathMissing    pathKind = iota // can never exist, such as $.id.x
	pathEvent                      // $: the whole event
	pathAttr                       // a context attribute ($.id, $.time, …)
	pathExt                        // an extension attribute
	pathData                       // $.data
	pathDataBase64                 // $.data_base64 (binary data)
	pathDataPath                   // $.data.<members and indexes>: the fast extractor
	pathLibrary                    // anything else: ojg on a decoded copy
	pathConst                      // alibaba: a variable that is a constant text (name)
)

// path is one compiled JSONPath.
type path struct {
	src  string
	kind pathKind
	name string // pathAttr, pathExt
	segs []seg  // pathDataPath: the steps below data
	slot int    // pathDataPath: the extractor slot
	expr jp.Expr
	// multi marks a library path that can select several values
	// (wildcards, filters, slices, unions, recursive descent): like Jayway
	// JsonPath, its result is always a JSON array of every match.
	multi bool
}

// attributes are the CloudEvents context attributes, in the names of the
// structured JSON format; anything else at the top level is an extension.
var attributes = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "subject": true,
	"time": true, "datacontenttype": true, "dataschema": true,
}

// compilePath parses a JSONPath over the event in structured JSON form.
func compilePath(src string) (path, error) {
	p := path{src: src}
	if !strings.HasPrefix(src, "$") {
		return p, fmt.Errorf("JSONPath %q must start with $", src)
	}
	x, err := parseJSONPath(src)
	if err != nil {
		return p, fmt.Errorf("invalid JSONPath %q: %v", src, err)
	}
	if len(x) == 0 {
		return p, fmt.Errorf("invalid JSONPath %q", src)
	}
	if _, ok := x[0].(jp.Root); !ok {
		return p, fmt.Errorf("JSONPath %q must start with $", src)
	}
	var segs []seg
	simple := true
	for _, f := range x[1:] {
		switch f := f.(type) {
		case jp.Bracket:
			// Only marks bracket notation; selects nothing.
		case jp.Child:
			segs = append(segs, seg{name: string(f), index: -1})
		case jp.Nth:
			if f < 0 {
				simple = false
			}
			segs = append(segs, seg{index: int(f)})
		default:
			simple = false
			p.multi = true
		}
	}
	if !simple {
		p.kind, p.expr = pathLibrary, x
		return p, nil
	}
	switch {
	case len(segs) == 0:
		p.kind = pathEvent
	case segs[0].index >= 0:
		p.kind = pathMissing // the event is an object, not an array
	case segs[0].name == "data" && len(segs) == 1:
		p.kind = pathData
	case segs[0].name == "data":
		p.kind, p.segs = pathDataPath, segs[1:]
	case len(segs) > 1:
		p.kind = pathMissing // attribute values are scalars
	case segs[0].name == "data_base64":
		p.kind = pathDataBase64
	case attributes[segs[0].name]:
		p.kind, p.name = pathAttr, segs[0].name
	default:
		p.kind, p.name = pathExt, segs[0].name
	}
	return p, nil
}

// parseJSONPath wraps the library parser; it also recovers from a panic so
// that no user input can crash a worker.
func parseJSONPath(src string) (x jp.Expr, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return jp.ParseString(src)
}
