package smt_test

import (
	"fmt"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/transform/predicate"
	"github.com/ferryhq/ferry/transform/smt"
)

func mustNew(p api.TransformPlugin, raw map[string]string) api.Transform {
	c, err := p.Spec.Parse(raw)
	if err != nil {
		panic(err)
	}
	t, err := p.New(c)
	if err != nil {
		panic(err)
	}
	return t
}

// The unwrap example of docs/transforms.md.
func ExampleUnwrap() {
	t := mustNew(smt.Unwrap, map[string]string{
		"delete.handling.mode": "rewrite",
		"add.fields":           "op,table,source.ts_ms",
		"add.headers":          "db,table",
		"add.headers.prefix":   "dbz",
	})
	r := api.Record{Event: api.Event{Data: []byte(`{"before": null, "after": {"id": 7, "status": "PAID"}, "op": "c", "ts_ms": 1795421350200,
 "source": {"db": "shop", "table": "orders", "ts_ms": 1795421350123}}`)}}
	keep, err := t.Apply(&r)
	fmt.Println(keep, err)
	fmt.Println(string(r.Event.Data))
	fmt.Println(r.Event.Extensions["dbzdb"], r.Event.Extensions["dbztable"])
	// Output:
	// true <nil>
	// {"id":7,"status":"PAID","__op":"c","__table":"orders","__source_ts_ms":1795421350123,"__deleted":"false"}
	// shop orders
}

// A chain as the engine runs it: each transform in order, a predicate
// making one conditional, a false keep ending the chain.
func Example_chain() {
	crm, err := predicate.SubjectMatches.New(api.NewConfig(map[string]string{"pattern": `crm\..*`}))
	if err != nil {
		panic(err)
	}
	chain := []api.Transform{
		mustNew(smt.ValueToKey, map[string]string{"fields": "id,region"}),
		predicate.Wrap(mustNew(smt.MaskField, map[string]string{"fields": "phone"}), crm, true),
		mustNew(smt.RegexRouter, map[string]string{"regex": `(crm|shop)\.(.*)`, "replacement": "ods_${2}"}),
	}
	for _, subject := range []string{"shop.users", "crm.users"} {
		r := api.Record{Event: api.Event{Subject: subject, Data: []byte(`{"region": "hz", "id": 7, "phone": "138"}`)}}
		for _, t := range chain {
			if keep, err := t.Apply(&r); !keep || err != nil {
				break
			}
		}
		fmt.Printf("%s key=%s data=%s\n", r.Event.Subject, r.Key, r.Event.Data)
	}
	// Output:
	// ods_users key={"id":7,"region":"hz"} data={"region":"hz","id":7,"phone":""}
	// ods_users key={"id":7,"region":"hz"} data={"region": "hz", "id": 7, "phone": "138"}
}
