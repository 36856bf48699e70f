package apitest

import (
	"fmt"
	"time"

	"github.com/ferryhq/ferry/api"
)

// ChangeRecords returns n records as mysql-cdc hands them to a sink: update
// changes of a five-column table (an int key, a name, a number, a decimal
// and a timestamp) in Debezium's envelope, about 700 bytes each, their
// data marked as JSON by its source and keyed by primary key. Sink
// benchmarks write them to measure a CDC pipeline's share of the sink.
func ChangeRecords(n int) []api.Record {
	recs := make([]api.Record, n)
	for i := range recs {
		data := fmt.Appendf(nil, `{"before":{"id":%d,"name":"name-%d","n":%d,"amount":"%d.50","ts":"2024-05-01T12:34:56.123"},`+
			`"after":{"id":%d,"name":"name-%d","n":%d,"amount":"%d.75","ts":"2024-05-01T12:34:57.456"},`+
			`"source":{"version":"ferry","connector":"mysql","name":"bench","ts_ms":1714566896000,"snapshot":"false","db":"bench","table":"bench",`+
			`"server_id":1,"file":"mysql-bin.000003","pos":%d,"row":0,"gtid":null},"op":"u","ts_ms":1714566896123}`,
			i, i, i, i, i, i, i+1, i, 123456+i)
		ev := api.Event{ID: fmt.Sprintf("mysql-bin.000003:%d:0", 123456+i), Source: "/ferry/mysql-cdc/bench", SpecVersion: "1.0",
			Type: "com.ferry.mysql.update", Subject: "bench.bench", DataContentType: "application/json",
			Time: time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC), Data: data}
		ev.MarkDataJSON()
		recs[i] = api.Record{Event: ev, Key: fmt.Appendf(nil, `{"id":%d}`, i)}
	}
	return recs
}
