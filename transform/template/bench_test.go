package template_test

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/template"
)

// oneKB is a realistic ~1 KB order event payload (the pattern benchmark's).
var oneKB = `{"orderId":"o-20261123-000042","status":"PAID","amount":299.5,"currency":"CNY",` +
	`"buyer":{"id":"u-77","level":3,"address":{"city":"Hangzhou","zip":"310000","street":"` + strings.Repeat("x", 300) + `"}},` +
	`"items":[{"sku":"sku-1","qty":2,"price":99.5},{"sku":"sku-2","qty":1,"price":100.5}],` +
	`"tags":["vip","promo"],"note":"` + strings.Repeat("n", 400) + `","ip":"10.1.2.3"}`

func benchEvent(b *testing.B) *api.Event {
	ev := &api.Event{ID: "e-1", Source: "acs.oss", Type: "order.paid", DataContentType: "application/json", Data: []byte(oneKB)}
	if len(ev.Data) < 1000 {
		b.Fatalf("payload is %d bytes", len(ev.Data))
	}
	return ev
}

func benchRender(b *testing.B, tm *template.Template, ev *api.Event) {
	b.Helper()
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(ev.Data)))
	for b.Loop() {
		var err error
		if dst, err = tm.Render(ev, dst[:0]); err != nil || len(dst) == 0 {
			b.Fatal(string(dst), err)
		}
	}
}

// BenchmarkRender4Vars renders a JSON template of four variables, three in
// data at several depths (one inside an array) and one attribute, on a 1 KB
// event.
func BenchmarkRender4Vars(b *testing.B) {
	tm := template.MustCompile(template.Tmpl,
		`{"order": "$.data.orderId", "city": "$.data.buyer.address.city", "sku": "$.data.items[1].sku", "source": "$.source"}`,
		`{"id": "order-${order}", "city": ${city}, "sku": ${sku}, "from": "${source}"}`)
	benchRender(b, tm, benchEvent(b))
}

// BenchmarkRender4VarsLate reads values near the end of the data, so the
// scan cannot stop early.
func BenchmarkRender4VarsLate(b *testing.B) {
	tm := template.MustCompile(template.Tmpl,
		`{"ip": "$.data.ip", "tag": "$.data.tags[1]", "sku": "$.data.items[1].sku", "status": "$.data.status"}`,
		`{"ip": ${ip}, "tag": "${tag}", "sku": ${sku}, "status": ${status}}`)
	benchRender(b, tm, benchEvent(b))
}

func BenchmarkRenderJSONPath(b *testing.B) {
	benchRender(b, template.MustCompile(template.JSONPath, "$.data.buyer.address.city", ""), benchEvent(b))
}

// BenchmarkRenderJSONPathLibrary is the general path: the event is decoded
// for the JSONPath library.
func BenchmarkRenderJSONPathLibrary(b *testing.B) {
	benchRender(b, template.MustCompile(template.JSONPath, "$.data.items[*].sku", ""), benchEvent(b))
}

func BenchmarkRenderConstant(b *testing.B) {
	benchRender(b, template.MustCompile(template.Constant, "orders", ""), benchEvent(b))
}

func BenchmarkRenderOriginal(b *testing.B) {
	benchRender(b, template.MustCompile(template.Original, "", ""), benchEvent(b))
}

func BenchmarkParamConstant(b *testing.B) {
	p, err := template.CompileParam(api.NewConfig(map[string]string{"topic": "orders"}), "topic")
	if err != nil {
		b.Fatal(err)
	}
	ev := benchEvent(b)
	dst := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = p.Render(ev, dst[:0])
	}
}
