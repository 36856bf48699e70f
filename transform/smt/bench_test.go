package smt_test

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/smt"
)

// oneKB is a realistic ~1 KB order event payload, the same shape as the
// pattern benchmarks use.
var oneKB = `{"orderId":"o-20261123-000042","status":"PAID","amount":299.5,"currency":"CNY","createdAt":1795421350123,` +
	`"buyer":{"id":"u-77","level":3,"phone":"13800000000","address":{"city":"Hangzhou","zip":"310000","street":"` + strings.Repeat("x", 300) + `"}},` +
	`"items":[{"sku":"sku-1","qty":2,"price":99.5},{"sku":"sku-2","qty":1,"price":100.5}],` +
	`"tags":["vip","promo"],"note":"` + strings.Repeat("n", 350) + `","ip":"10.1.2.3"}`

var change1KB = `{"before":null,"after":` + oneKB + `,"op":"c","ts_ms":1795421350200,"source":{"db":"shop","table":"orders","ts_ms":1795421350123}}`

func benchSMT(b *testing.B, p api.TransformPlugin, raw map[string]string, data string) {
	c, err := p.Spec.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := p.New(c)
	if err != nil {
		b.Fatal(err)
	}
	in := []byte(data)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r := api.Record{Event: api.Event{ID: "1", Source: "s", Type: "t", Subject: "orders", Data: in}}
		if keep, err := tr.Apply(&r); !keep || err != nil {
			b.Fatal(keep, err)
		}
	}
}

func BenchmarkInsertField(b *testing.B) {
	benchSMT(b, smt.InsertField, map[string]string{"static.field": "env", "static.value": "prod", "subject.field": "topic"}, oneKB)
}

func BenchmarkMaskField(b *testing.B) {
	benchSMT(b, smt.MaskField, map[string]string{"fields": "buyer.phone,buyer.address.street"}, oneKB)
}

func BenchmarkCast(b *testing.B) {
	benchSMT(b, smt.Cast, map[string]string{"spec": "amount:string,buyer.level:int8,createdAt:float64"}, oneKB)
}

func BenchmarkFlatten(b *testing.B) {
	benchSMT(b, smt.Flatten, nil, oneKB)
}

func BenchmarkUnwrap(b *testing.B) {
	benchSMT(b, smt.Unwrap, map[string]string{"add.fields": "op,table,source.ts_ms"}, change1KB)
}

// Transforms that never decode the data, for comparison.
func BenchmarkSetExtensionStatic(b *testing.B) {
	benchSMT(b, smt.SetExtension, map[string]string{"name": "env", "value": "prod"}, oneKB)
}

func BenchmarkRegexRouter(b *testing.B) {
	benchSMT(b, smt.RegexRouter, map[string]string{"regex": "(.*)s", "replacement": "db.$1"}, oneKB)
}
