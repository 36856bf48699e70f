// Package dts emulates Alibaba Cloud DTS data subscription (new version) for
// tests and local development: a Kafka-protocol endpoint whose single topic
// carries change records Avro-encoded with DTS's com.alibaba.dts.formats.avro
// Record schema.
//
// # What a client sees
//
// A DTS subscription client connects with SASL/PLAIN as
// "<user>-<consumerGroupID>" and the account's password, reads one topic with
// exactly one partition, and decodes each record value as a DTS Record. The
// Server enforces that: only that user can log in, and its ACLs allow reading
// and describing the configured topic and committing offsets for the
// configured consumer group only (another group ID gets
// GROUP_AUTHORIZATION_FAILED, as in DTS where the group is part of the login).
// The subscription user cannot produce.
//
// Record timestamps follow DTS: Record.sourceTimestamp and the Kafka record
// timestamp are Unix SECONDS, not milliseconds, so DTS clients pass a checkpoint
// in seconds to ListOffsets (offsetsForTimes) to start from a time. Kafka client
// libraries take a time.Time and send milliseconds; give them SeekTime(t).
//
// # Using it
//
//	srv, err := dts.New(dts.Config{User: "ferry", Password: "secret", Group: "g1", Topic: "t"})
//	if err := srv.Start(); err != nil { ... }
//	defer srv.Close()
//	err = srv.Publish(ctx, dts.BeginTx(ts, "tx1"), insert, dts.CommitTx(ts, "tx1"))
//	brokers := srv.Brokers()
//
// Run(ctx) is the process form: it starts the server and blocks until ctx ends.
// Publish may be called from many goroutines; records keep the order of the
// calls and the Record.id of a Change with ID 0 is assigned in offset order.
// Close is idempotent and waits for the broker and the internal producer.
//
// # Records
//
// Change is the row-level model: Encode turns one into Avro bytes and Decode
// turns bytes back. Decode(Encode(c)) equals c for every change Encode
// accepts, except what the wire cannot tell apart: Timestamp comes back in UTC
// at millisecond precision, an explicit DefaultSource as the zero Source, and
// empty Tags as nil.
// Row images are positional, aligned with Change.Columns, exactly as the
// wire format pairs Record.fields with beforeImages/afterImages; a nil Value
// in an image is SQL NULL. Column types are MySQL binlog type numbers (the
// Record.fields dataTypeNumber), and each value uses the Avro record type DTS
// uses for that MySQL type; Encode rejects a value of the wrong record type for
// its column, because DTS readers cast by the type number.
package dts
