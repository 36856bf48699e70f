// Package sls holds the Alibaba Cloud Log Service (SLS) connectors, on the
// official SDK github.com/aliyun/aliyun-log-go-sdk. conn.go is what they
// share (the endpoint, the SDK client and its HTTP transport; the access
// key, signature and routing settings come from connectors/kit/alicloud,
// as for mns); sink*.go is the "sls" sink, source*.go the "sls" source.
//
// # The sink
//
// Each record becomes one log. Its keys come from contents: event (every
// attribute as a key, extensions by name, and the data flattened under
// "data." with nested members as dotted keys), data (the data flattened,
// its members as keys), or map: EventBridge's ContentSchema as flat config,
// contents.<key>=<constant> or contents.<key>.form with .value/.template,
// each a sink parameter of package transform/template. __topic__ and
// __source__ (topic, source), the shard routing (hash.key) and the log's
// time (time; default the event's time, with nanoseconds) are sink
// parameters too.
//
// Write groups a batch's logs by topic, source and hash key into LogGroups
// of at most batch.count logs and batch.bytes bytes and sends each with one
// PutLogs call (compressed with lz4, zstd or not at all); calls run at once
// across record keys, up to send.parallelism, one after another within a
// key. Write returns when every call has: a nil error means SLS accepted
// every log. There is no producer buffer between Ferry and SLS, so nothing
// acknowledged can be lost by the sink (the Java producer's missing flush).
//
// A record that can never be written (a time that is not a time, too many
// keys, a topic too long, data not matching its JSON content type) is
// rejected alone with api.RecordErrors; so is a log SLS refuses for its
// content (a refused LogGroup is split in halves until the culprits are
// found). Throttles (WriteQuotaExceed, ShardWriteQuotaExceed, ServerBusy)
// are retried no sooner than a second; other transient failures are
// retried by the engine, and kit.Resume keeps a retry from storing again
// what the failed Write stored. Wrong credentials, a missing project or
// logstore are fatal, found at Open. See docs/sls-sink.md.
//
// # The source
//
// Each task lists the logstore's shards, keeps those kit.Owner gives it,
// and pulls them in turn with PullLogs, at most batch.size logs a Read.
// The answers are decoded here, straight from their protobuf into each
// event's JSON (EventBridge's SLS event: type sls:connector, the log's keys,
// tags, __topic__, __source__, __time__ in data), a batch at a time; the
// log groups asked for are sized from those seen, toward fetch.max.bytes.
// A position is the cursor of the next log group, with @<n> when n of its
// logs were read; ids are project, logstore, shard, log group cursor and
// index. Committed positions (api.CommitListener) become the consumer
// group's checkpoints; a read-only shard (split or merged) is read to its
// end and let go only once its last position is committed and
// checkpointed; new shards are picked up at the next shard refresh.
// stop.time ends a backfill with api.ErrEndOfInput. See
// docs/sls-source.md.
package sls
