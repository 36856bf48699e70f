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
//	"v", 3, true, null, ""                     exact value (numbers compare numerically)
//	{"prefix": "a"} {"suffix": ".txt"} {"contains": "x"}
//	{"equals-ignore-case": "v"} {"wildcard": "dir/*.png"}
//	{"anything-but": v | [v…] | {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": …}}
//	{"numeric": [">", 0, "<=", 5]}  {"numeric": ["=", 300]}
//	{"cidr": "10.0.0.0/24"}  (IPv4 and IPv6)
//	{"exists": true|false}  (the only condition that matches a missing field)
//	{"prefix": "a", "suffix": ".txt"}  two operators in one object are ANDed
//	"$or": [pattern, pattern]  at any level
//
// Compile rejects malformed patterns with the JSON path of the offending
// element. A compiled Pattern is immutable and safe for concurrent use; Match
// walks the event's data once, on the raw JSON, without decoding it into
// maps, and does not allocate on the common path. It stops reading as soon
// as the result is decided, so malformed data is reported only where it is
// read.
package pattern
