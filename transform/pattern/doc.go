// Package pattern compiles and evaluates EventBridge event patterns against
// CloudEvents.
//
// A pattern is a JSON object that mirrors the event: top-level keys address
// attributes and extensions (source, type, subject, id, time, …, any
// extension name) and "data" nests into the JSON payload to any depth. Keys
// at one level are ANDed; each leaf is an array of conditions that are ORed;
// an array-valued event field matches when any element does; {} matches
// every event. Conditions, with Alibaba Cloud EventBridge's set as the
// baseline and AWS EventBridge's extras:
//
//	"v", 3, true, null, ""                     exact value (see Dialect for numbers)
//	{"prefix": "a"} {"suffix": ".txt"} {"contains": "x"}
//	{"prefix": {"equals-ignore-case": "A"}} {"suffix": {"equals-ignore-case": ".TXT"}}
//	{"equals-ignore-case": "v"} {"wildcard": "dir/*.png"}
//	{"anything-but": v | [v…] | {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": …}}
//	{"numeric": [">", 0, "<=", 5]}  {"numeric": ["=", 300]}
//	{"cidr": "10.0.0.0/24"}  (IPv4 and IPv6; Alibaba also a single address)
//	{"exists": true|false}  (the only condition that matches a missing field)
//	{"prefix": "a", "suffix": ".txt"}  two operators in one object are ANDed
//	"$or": [pattern, pattern]  at any level
//
// Where Alibaba's engine (apache/rocketmq-eventbridge) and AWS's
// (aws/event-ruler) differ — exact numbers as text or as numbers, numeric
// bounds, a single-address cidr, several operators in one object, exists on
// objects, array consistency — CompileDialect follows the Dialect given;
// Compile uses Alibaba. docs/transforms.md lists the differences, and
// testdata holds both references' cases, run by TestReferenceCases.
//
// Compile rejects malformed patterns with the JSON path of the offending
// element. A compiled Pattern is immutable and safe for concurrent use; Match
// walks the event's data once, on the raw JSON, without decoding it into
// maps, and does not allocate on the common path. It stops reading as soon
// as the result is decided, so malformed data is reported only where it is
// read.
package pattern
