package template_test

import (
	"fmt"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/template"
)

func ExampleCompile() {
	t, err := template.Compile(template.Tmpl,
		`{"id": "$.data.order.id", "qty": "$.data.order.qty", "tenant": "$.tenant"}`,
		`{"key": "${tenant}/${id}", "qty": ${qty}, "coupon": ${coupon_missing_is_an_error}}`)
	fmt.Println(err)

	t = template.MustCompile(template.Tmpl,
		`{"id": "$.data.order.id", "qty": "$.data.order.qty", "tenant": "$.tenant", "gift": "$.data.gift"}`,
		`{"key": "${tenant}/${id}", "qty": ${qty}, "gift": ${gift}}`)
	ev := &api.Event{ID: "1", Source: "shop", Type: "order.paid",
		Extensions: map[string]any{"tenant": "acme"},
		Data:       []byte(`{"order": {"id": "o-\"7\"", "qty": 2}}`)}
	out, _ := t.Render(ev, nil)
	fmt.Println(string(out))
	// Output:
	// template: bad template: ${coupon_missing_is_an_error} has no variable; defined: id, qty, tenant
	// {"key": "acme/o-\"7\"", "qty": 2, "gift": null}
}

func ExampleParamSpec() {
	// A sink declares its parameter once ...
	topic := template.ParamSpec{Name: "topic", Description: "Destination topic.", Required: true}
	spec := api.Spec(topic.Fields())

	// ... and compiles it from the parsed config in New.
	cfg, _ := spec.Parse(map[string]string{
		"topic.form":     "TEMPLATE",
		"topic.value":    `{"tenant": "$.tenant", "type": "$.type"}`,
		"topic.template": "${tenant}.${type}",
	})
	p, err := topic.Compile(cfg)
	if err != nil {
		panic(err)
	}

	// Per record, into a reused buffer.
	var buf []byte
	for _, tenant := range []string{"acme", "globex"} {
		ev := &api.Event{ID: "1", Source: "shop", Type: "order.paid", Extensions: map[string]any{"tenant": tenant}}
		buf, _ = p.Render(ev, buf[:0])
		fmt.Println(string(buf))
	}
	// Output:
	// acme.order.paid
	// globex.order.paid
}
