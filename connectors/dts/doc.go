// Package dts is the dts source: it reads an Alibaba Cloud DTS data
// subscription (the new version: a Kafka-protocol endpoint whose one-
// partition topic carries Avro records of DTS's published Record.avsc)
// and emits mysql-cdc's change events, so a DTS connector feeds the rds
// sink in cdc mode, or any other sink, exactly as mysql-cdc does.
//
// # Reading
//
// The source logs in with SASL PLAIN as <user>-<sid> and reads partition
// 0 of the topic with segmentio/kafka-go's protocol client (a Transport
// and raw fetch requests, as the kafka source does); it decodes each
// value with hamba/avro against the embedded Record.avsc.
//
// # Events
//
//	id       <topic>:<record id>[:begin|:end]   deterministic: DTS record ids survive replays and store failovers
//	source   /ferry/dts/<connector>
//	type     ferry.dts.insert|update|delete|ddl|heartbeat|transaction
//	subject  <db>.<table>
//	time     the record's source time
//	data     {"before":…,"after":…,"source":{…},"op":"c|u|d","ts_ms":…}
//	key      the primary key as a JSON object when the record's pk_uk_info tag names it
//
// Values are rendered by connectors/kit's value kinds, the same code
// mysql-cdc renders binlog rows with. DDL records become ddl events in
// mysql-cdc's shape (kit.ParseDDL); BEGIN and COMMIT become transaction
// events with provide.transaction.metadata. Records that emit nothing
// (heartbeats, transaction boundaries, tables not emitted, DTS's other
// operations) move the position: a fetch that ends on one returns a
// heartbeat record carrying it, which the rds sink skips.
//
// # Positions
//
// The partition is "<topic>-0"; a position is JSON text
//
//	{"ts":1763800000,"offset":41,"id":42,"store":"<cluster id>"}
//
// the record's source time (seconds), offset, DTS record id and the Kafka
// cluster ID of the store that served it. The engine commits only
// acknowledged positions (its ack watermark); a restart resumes at the
// stored offset and skips records up to the stored id, never going back to
// start.timestamp. When the store is not the stored one (DTS moved the
// subscription to another store: offsets there mean other records), the
// source seeks by the stored timestamp instead and skips the resumed
// second's records up to the stored id. While running it notices a
// failover by a dropped connection, an offset out of range, or record ids
// no longer advancing with offsets, each of which makes it check the
// cluster ID before it reads on.
//
// # Consumer group
//
// The source joins the consumer group (sid) as its only member,
// heartbeating from Read, and publishes committed offsets to it
// (metadata: the record's timestamp), so DTS's console shows progress. A
// group with another member (DTS's SDK, another Ferry connector) is
// refused with ErrGroupInUse, fatal: DTS keeps one checkpoint per group;
// after each heartbeat the source reads the group (kafka-go misreads
// heartbeat errors), so a client joining later stops it the same way. A
// member with this connector's client id is an earlier task of it and is
// taken over: a running one steps aside with ErrReplaced.
//
// # Concurrency
//
// Open, Read and Close run on the engine's goroutine; Committed and Lag
// share a mutex with it and do no I/O. The only goroutines are kafka-go's
// transport's, ended by Close.
package dts
