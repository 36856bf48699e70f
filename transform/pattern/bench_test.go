package pattern_test

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/transform/pattern"
)

// oneKB is a realistic ~1 KB order event payload.
var oneKB = `{"orderId":"o-20261123-000042","status":"PAID","amount":299.5,"currency":"CNY",` +
	`"buyer":{"id":"u-77","level":3,"address":{"city":"Hangzhou","zip":"310000","street":"` + strings.Repeat("x", 300) + `"}},` +
	`"items":[{"sku":"sku-1","qty":2,"price":99.5},{"sku":"sku-2","qty":1,"price":100.5}],` +
	`"tags":["vip","promo"],"note":"` + strings.Repeat("n", 400) + `","ip":"10.1.2.3"}`

// BenchmarkMatch5 evaluates a 5-condition pattern (one attribute, four data
// fields at several depths, one inside an array of objects) on a 1 KB event.
func BenchmarkMatch5(b *testing.B) {
	p := pattern.MustCompile(`{"source": ["acs.oss"], "data": {"status": ["PAID"], "amount": [{"numeric": [">", 100]}],
		"buyer": {"address": {"city": [{"prefix": "Hang"}]}}, "items": {"sku": ["sku-2"]}}}`)
	ev := event(oneKB)
	if len(ev.Data) < 1000 {
		b.Fatalf("payload is %d bytes", len(ev.Data))
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(ev.Data)))
	for b.Loop() {
		ok, err := p.Match(ev)
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
