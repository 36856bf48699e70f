package pattern_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/pattern"
)

func event(data string) *api.Event {
	return &api.Event{
		ID: "id-1", Source: "acs.oss", Type: "oss:ObjectCreated:PostObject", Subject: "acs:oss:cn-hangzhou:123:bucket/dir/a.png",
		SpecVersion: "1.0", Time: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC),
		Data:       []byte(data),
		Extensions: map[string]any{"aliyunregionid": "cn-hangzhou", "retries": int64(3), "urgent": true},
	}
}

const sample = `{
  "name": "order-1", "status": "PAID", "amount": 300, "ratio": 0.5, "empty": "", "nothing": null, "ok": true,
  "ip": "10.0.0.7", "ip6": "2001:db8::1", "path": "dir/sub/file.png",
  "tags": ["a", "b", "vip"], "sizes": [1, 20, 300],
  "items": [{"sku": "x1", "qty": 2}, {"sku": "y2", "qty": 5}],
  "buyer": {"address": {"city": "Hangzhou", "zip": "310000"}, "level": 3},
  "esc": "quote\" and \\ and \u00e9", "nested": [[1, 2], [3]]
}`

func TestMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		pattern string
		want    bool
	}{
		{"empty matches all", `{}`, true},
		{"attribute exact", `{"source": ["acs.oss"]}`, true},
		{"attribute miss", `{"source": ["acs.ecs"]}`, false},
		{"attribute OR", `{"source": ["acs.ecs", "acs.oss"]}`, true},
		{"keys ANDed", `{"source": ["acs.oss"], "type": ["nope"]}`, false},
		{"attribute prefix", `{"type": [{"prefix": "oss:ObjectCreated"}]}`, true},
		{"subject suffix", `{"subject": [{"suffix": ".png"}]}`, true},
		{"extension string", `{"aliyunregionid": ["cn-hangzhou"]}`, true},
		{"extension number", `{"retries": [{"numeric": [">", 2]}]}`, true},
		{"extension bool", `{"urgent": [true]}`, true},
		{"missing extension", `{"missing": ["x"]}`, false},
		{"missing extension exists false", `{"missing": [{"exists": false}]}`, true},
		{"time prefix", `{"time": [{"prefix": "2026-11-23T08"}]}`, true},
		{"data exact string", `{"data": {"status": ["PAID"]}}`, true},
		{"data exact miss", `{"data": {"status": ["NEW"]}}`, false},
		{"number compares as text", `{"data": {"amount": [300]}}`, true},
		{"number text differs", `{"data": {"amount": [300.0]}}`, false},
		{"string matches number text", `{"data": {"amount": ["300"]}}`, true},
		{"string is not number", `{"data": {"status": [300]}}`, false},
		{"bool", `{"data": {"ok": [true]}}`, true},
		{"null", `{"data": {"nothing": [null]}}`, true},
		{"null does not match missing", `{"data": {"missing": [null]}}`, false},
		{"empty string", `{"data": {"empty": [""]}}`, true},
		{"nested", `{"data": {"buyer": {"address": {"city": ["Hangzhou"]}}}}`, true},
		{"nested miss", `{"data": {"buyer": {"address": {"city": ["Beijing"]}}}}`, false},
		{"prefix", `{"data": {"name": [{"prefix": "order-"}]}}`, true},
		{"suffix", `{"data": {"path": [{"suffix": ".png"}]}}`, true},
		{"contains", `{"data": {"path": [{"contains": "/sub/"}]}}`, true},
		{"prefix and suffix ANDed", `{"data": {"path": [{"prefix": "dir/", "suffix": ".png"}]}}`, true},
		{"prefix and suffix ANDed miss", `{"data": {"path": [{"prefix": "dir/", "suffix": ".txt"}]}}`, false},
		{"prefix on number", `{"data": {"amount": [{"prefix": "3"}]}}`, false},
		{"anything-but value", `{"data": {"status": [{"anything-but": "NEW"}]}}`, true},
		{"anything-but value miss", `{"data": {"status": [{"anything-but": "PAID"}]}}`, false},
		{"anything-but list", `{"data": {"status": [{"anything-but": ["NEW", "PAID"]}]}}`, false},
		{"anything-but number", `{"data": {"amount": [{"anything-but": [100, 200]}]}}`, true},
		{"anything-but prefix", `{"data": {"name": [{"anything-but": {"prefix": "order-"}}]}}`, false},
		{"anything-but suffix", `{"data": {"path": [{"anything-but": {"suffix": ".txt"}}]}}`, true},
		{"anything-but ignore case", `{"data": {"status": [{"anything-but": {"equals-ignore-case": ["paid"]}}]}}`, false},
		{"anything-but wildcard", `{"data": {"path": [{"anything-but": {"wildcard": "dir/*.png"}}]}}`, false},
		{"anything-but missing field", `{"data": {"missing": [{"anything-but": "x"}]}}`, false},
		{"numeric range", `{"data": {"amount": [{"numeric": [">", 0, "<=", 300]}]}}`, true},
		{"numeric range miss", `{"data": {"amount": [{"numeric": [">", 0, "<", 300]}]}}`, false},
		{"numeric equals", `{"data": {"amount": [{"numeric": ["=", 300]}]}}`, true},
		{"numeric not equals", `{"data": {"amount": [{"numeric": ["!=", 300]}]}}`, false},
		{"numeric float", `{"data": {"ratio": [{"numeric": [">=", 0.5]}]}}`, true},
		{"numeric on string", `{"data": {"status": [{"numeric": [">", 0]}]}}`, false},
		{"cidr v4", `{"data": {"ip": [{"cidr": "10.0.0.0/24"}]}}`, true},
		{"cidr v4 miss", `{"data": {"ip": [{"cidr": "10.0.1.0/24"}]}}`, false},
		{"cidr v6", `{"data": {"ip6": [{"cidr": "2001:db8::/32"}]}}`, true},
		{"cidr v6 miss", `{"data": {"ip6": [{"cidr": "2001:db9::/32"}]}}`, false},
		{"cidr on non ip", `{"data": {"name": [{"cidr": "10.0.0.0/8"}]}}`, false},
		{"exists true", `{"data": {"name": [{"exists": true}]}}`, true},
		{"exists true on object", `{"data": {"buyer": [{"exists": true}]}}`, false},
		{"exists true on null", `{"data": {"nothing": [{"exists": true}]}}`, true},
		{"exists true missing", `{"data": {"missing": [{"exists": true}]}}`, false},
		{"exists false missing", `{"data": {"missing": [{"exists": false}]}}`, true},
		{"exists false present", `{"data": {"name": [{"exists": false}]}}`, false},
		{"exists false deep missing", `{"data": {"buyer": {"phone": [{"exists": false}]}}}`, true},
		{"equals-ignore-case", `{"data": {"status": [{"equals-ignore-case": "paid"}]}}`, true},
		{"wildcard", `{"data": {"path": [{"wildcard": "dir/*.png"}]}}`, true},
		{"wildcard middle", `{"data": {"path": [{"wildcard": "d*sub*e.png"}]}}`, true},
		{"wildcard miss", `{"data": {"path": [{"wildcard": "dir/*.txt"}]}}`, false},
		{"array any element", `{"data": {"tags": ["vip"]}}`, true},
		{"array no element", `{"data": {"tags": ["gold"]}}`, false},
		{"array numeric", `{"data": {"sizes": [{"numeric": [">", 250]}]}}`, true},
		{"array of objects", `{"data": {"items": {"sku": ["y2"]}}}`, true},
		{"array of objects numeric", `{"data": {"items": {"qty": [{"numeric": [">", 4]}]}}}`, true},
		{"array of objects miss", `{"data": {"items": {"sku": ["z3"]}}}`, false},
		{"nested arrays", `{"data": {"nested": [3]}}`, true},
		{"escaped string", `{"data": {"esc": ["quote\" and \\ and é"]}}`, true},
		{"or top level", `{"$or": [{"source": ["x"]}, {"data": {"status": ["PAID"]}}]}`, true},
		{"or top level miss", `{"$or": [{"source": ["x"]}, {"data": {"status": ["NEW"]}}]}`, false},
		{"or nested", `{"data": {"$or": [{"amount": [1]}, {"buyer": {"level": [3]}}]}}`, true},
		{"or with and", `{"source": ["acs.oss"], "$or": [{"type": ["a"]}, {"type": ["b"]}]}`, false},
		{"many conditions", `{"source": ["acs.oss"], "data": {"status": ["PAID"], "amount": [{"numeric": [">", 100]}], "buyer": {"address": {"city": [{"prefix": "Hang"}]}}, "tags": ["vip"]}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := pattern.Compile(tc.pattern)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := p.Match(event(sample))
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ pattern, path, msg string }{
		{`[]`, "$", "must be a JSON object"},
		{`{"source": "x"}`, "$.source", "array of conditions"},
		{`{"source": {"a": ["x"]}}`, "$.source", "only data nests"},
		{`{"data": {"a": []}}`, "$.data.a", "empty array"},
		{`{"data": {"a": [{"prefix": ""}]}}`, "$.data.a[0].prefix", "must not be empty"},
		{`{"data": {"a": [{"prefix": 1}]}}`, "$.data.a[0].prefix", "takes a string"},
		{`{"data": {"a": [{"bogus": 1}]}}`, "$.data.a[0].bogus", `unknown operator "bogus"`},
		{`{"data": {"a": [{"numeric": [">"]}]}}`, "$.data.a[0].numeric", "an operator and a number"},
		{`{"data": {"a": [{"numeric": ["~", 1]}]}}`, "$.data.a[0].numeric[0]", "operator must be"},
		{`{"data": {"a": [{"numeric": [">", "1"]}]}}`, "$.data.a[0].numeric[1]", "needs a number"},
		{`{"data": {"a": [{"cidr": "10.0.0.0/99"}]}}`, "$.data.a[0].cidr", "invalid CIDR"},
		{`{"data": {"a": [{"exists": "yes"}]}}`, "$.data.a[0].exists", "true or false"},
		{`{"data": {"a": [{"exists": true, "prefix": "x"}]}}`, "$.data.a[0].exists", "cannot be combined"},
		{`{"data": {"a": [{"anything-but": {"contains": "x"}}]}}`, "$.data.a[0].anything-but.contains", "anything-but supports"},
		{`{"data": {"a": [{"anything-but": []}]}}`, "$.data.a[0].anything-but", "non-empty"},
		{`{"data": {"a": [{"wildcard": "a**b"}]}}`, "$.data.a[0].wildcard", "consecutive"},
		{`{"data": {"a": [["x"]]}}`, "$.data.a[0]", "cannot nest"},
		{`{"$or": [{"source": ["x"]}]}`, "$.$or", "at least two"},
		{`{"data": {"a": 5}}`, "$.data.a", "array of conditions"},
		{`{"data": `, "$", "not valid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.pattern, func(t *testing.T) {
			t.Parallel()
			_, err := pattern.Compile(tc.pattern)
			var se *pattern.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%s) = %v, want a SyntaxError", tc.pattern, err)
			}
			if se.Path != tc.path || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("got %q at %q, want %q at %q", se.Msg, se.Path, tc.msg, tc.path)
			}
		})
	}
}

func TestMatchBadData(t *testing.T) {
	t.Parallel()
	// Malformed data is reported where the scan reads it; once every
	// condition has matched, the rest is not read (nor validated).
	p := pattern.MustCompile(`{"data": {"z": ["x"]}}`)
	for _, data := range []string{`{"a": "x"`, `{"a" "x"}`, `{"a": "x"} trailing`, `{"z": tru}`} {
		if _, err := p.Match(event(data)); err == nil {
			t.Errorf("Match(%s) gave no error", data)
		}
	}
	// Attribute-only patterns never look at data.
	q := pattern.MustCompile(`{"source": ["acs.oss"]}`)
	if ok, err := q.Match(event(`not json`)); !ok || err != nil {
		t.Errorf("attribute pattern on bad data: %v %v", ok, err)
	}
}

func FuzzCompileAndMatch(f *testing.F) {
	f.Add(`{"data": {"a": [{"prefix": "x"}]}}`, `{"a": "xy"}`)
	f.Add(`{"$or": [{"source": ["s"]}, {"data": {"b": {"c": [{"numeric": [">", 1]}]}}}]}`, `{"b": [{"c": 2}, {"c": "x"}]}`)
	f.Add(`{"data": {"ip": [{"cidr": "::/0"}], "w": [{"wildcard": "*a\\*"}]}}`, `{"ip": "::1", "w": "ba*"}`)
	f.Add(`{"data": {"x": [{"anything-but": {"equals-ignore-case": ["A"]}}]}}`, `{"x": "\u0041\"\\"}`)
	f.Fuzz(func(t *testing.T, pat, data string) {
		p, err := pattern.Compile(pat)
		if err != nil {
			return
		}
		_, _ = p.Match(event(data))
	})
}

// TestMatchDoesNotAllocate: the common path (attributes, extensions,
// time, data without escapes) allocates nothing, in both dialects.
func TestMatchDoesNotAllocate(t *testing.T) {
	for _, d := range []pattern.Dialect{pattern.Alibaba, pattern.AWS} {
		p, err := pattern.CompileDialect(`{"source": ["acs.oss"], "time": [{"prefix": "2026"}], "retries": [3], "urgent": [true],
			"data": {"status": ["PAID"], "amount": [{"numeric": [">", 100]}], "sizes": [20], "buyer": {"level": [3]}}}`, d)
		if err != nil {
			t.Fatal(err)
		}
		ev := event(sample)
		if n := testing.AllocsPerRun(100, func() { _, _ = p.Match(ev) }); n != 0 {
			t.Errorf("%v: %v allocations per Match", d, n)
		}
	}
}

func FuzzCompileDialects(f *testing.F) {
	f.Add(`{"data": {"w": [{"wildcard": "a\\**\\\\"}], "n": [{"numeric": [">=", 1, "<", 2]}]}}`, `{"w": "a*x\\", "n": 1.5}`)
	f.Add(`{"data": {"d": {"a": [{"exists": true}], "b": [{"prefix": {"equals-ignore-case": "X"}}]}}}`, `{"d": [{"a": 1}, {"a": 2, "b": "xy"}]}`)
	f.Add(`{"data": {"ip": [{"cidr": "10.0.0.1"}], "s": [{"anything-but": {"suffix": ["a", "b"]}}]}}`, `{"ip": "10.0.0.1", "s": "c"}`)
	f.Fuzz(func(t *testing.T, pat, data string) {
		for _, d := range []pattern.Dialect{pattern.Alibaba, pattern.AWS} {
			p, err := pattern.CompileDialect(pat, d)
			if err != nil {
				var se *pattern.SyntaxError
				if !errors.As(err, &se) || !strings.HasPrefix(se.Path, "$") {
					t.Fatalf("error without a JSON path: %v", err)
				}
				continue
			}
			_, _ = p.Match(event(data))
		}
	})
}
