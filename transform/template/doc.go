// Package template compiles and renders EventBridge event transforms, and
// resolves sink parameters that may come from each event.
//
// # Forms
//
// A transform has one of EventBridge's four forms:
//
//	ORIGINAL  the complete CloudEvent in structured JSON
//	JSONPATH  one value: value = "$.data.order.id"
//	CONSTANT  a fixed string: value = "orders"
//	TEMPLATE  value = {"id": "$.data.order.id", "n": "$.data.qty"} (variables → JSONPaths)
//	          template = {"order": "id-${id}", "qty": ${n}}
//
// JSONPaths address the event as the structured JSON format shows it:
// $.id, $.source, $.type, $.subject, $.time (RFC 3339), $.specversion,
// $.datacontenttype, $.dataschema, extensions as $.<name>, and $.data… for
// the payload ($.data_base64 for binary data, $ for the whole event). Data
// with a JSON content type is JSON; text/* data is a string.
//
// # What a value becomes
//
// JSONPATH and text templates write a value's text: strings without quotes,
// numbers, booleans, objects and arrays as their JSON text (as written in
// the event), and a missing value or null as nothing.
//
// A template is a JSON template when, with each placeholder standing for a
// value, it is valid JSON; its output is then always valid JSON:
//
//	{"n": ${n}}      a placeholder standing alone is a JSON value: strings
//	                 are quoted and escaped, numbers, booleans, objects and
//	                 arrays are copied, a missing value or null is null.
//	{"id": "x-${id}"} inside a string, the value's text is escaped into it;
//	                 a missing value or null is empty.
//
// Any other template is text and gets the values' text unescaped. "$${"
// writes a literal "${". A placeholder must name a variable; a variable the
// template does not use is allowed.
//
// Paths of member names and array indexes only ($.data.items[0].sku, the
// common case) compile to one extractor per template that scans the raw
// JSON of the data once, stops when every value is found, and does not
// allocate. Other paths (wildcards, filters, slices, unions, recursive
// descent, negative indexes) go through github.com/ohler55/ojg on a decoded
// copy of the event. As in Jayway JsonPath, a path that can select several
// values (all of those but negative indexes) always yields a JSON array of
// the matches, [] when none; object members a wildcard selects come in key
// order. Values keep their exact JSON text either way. Duplicate keys in
// data: the first wins on the fast path, the library may take another.
//
// CompileDialect with pattern.Alibaba renders as Alibaba's engine, whose
// templates are commons-text's StringSubstitutor: as text, a missing value
// leaves its placeholder ${name} as written and null writes null (a
// JSONPATH of null too); ${name:-text} writes text for a missing value; a
// placeholder with no variable, an unterminated "${" and any name are kept
// as written rather than rejected; a variable whose value does not start
// with $ is a constant text. Compile keeps the behaviour above, which is
// the AWS dialect's; sink parameters render in ParamSpec.Dialect, Alibaba
// unless the sink chooses otherwise.
//
// Compile's errors are *Error, naming the part at fault (form, value or
// template) so config validation can name the key. Data is validated only
// where it is read: a value that is written must be valid JSON, and Render
// returns an error wrapping ErrData when the data around it is not; bytes
// after the last value needed are not read.
//
// A compiled Template is immutable and safe for concurrent use; Render
// appends to a caller's buffer so hot paths can reuse one.
//
// # Sink parameters
//
// A sink parameter p (a topic, a tag, a key, an HTTP body) is either a
// constant, sink.p=orders, or taken from each event with sink.p.form,
// sink.p.value and sink.p.template, exactly as the template transform in
// the alibaba dialect, which is how Alibaba Cloud EventBridge renders a
// target's parameters (with one strictness more: an unterminated "${" is
// rejected). One ParamSpec declares it:
//
//	var topic = template.ParamSpec{Name: "topic", Description: "Destination topic.", Required: true}
//
//	var Sink = api.SinkPlugin{
//		Name: "mq",
//		Spec: append(api.Spec{{Name: "endpoint", Type: api.TypeString, Required: true}},
//			topic.Fields()...),
//		New: func(tc api.TaskConfig) (api.Sink, error) {
//			p, err := topic.Compile(tc.Config) // rejects p together with p.form
//			if err != nil {
//				return nil, err
//			}
//			return &sink{topic: p}, nil
//		},
//	}
//
//	// In Write, with buf reused across records:
//	buf, err = s.topic.Render(&r.Event, buf[:0])
//
// Param.Constant tells when the value is the same for every event. A
// constant renders without allocating.
//
// Spec checks run one field at a time, so a config validation rejects an
// unknown form, an unterminated placeholder and a variables map with a
// malformed JSONPath, while the combination (form, value and template
// together; p and p.form both set) is checked by Compile when the task
// starts.
package template
