// Package sls is a protocol-faithful, in-memory emulator of Alibaba Cloud Log
// Service (SLS) for tests and local development, driven by the official Go SDK
// (github.com/aliyun/aliyun-log-go-sdk, its producer and its consumer library).
//
// # Contract
//
// New validates a Config and allocates a Server; Start binds the listener and
// serves in the background, Run(ctx) serves until ctx ends, Close stops the
// server and waits for it (it is idempotent). Handler returns the bare
// http.Handler for httptest-style embedding. All emulated state (projects,
// logstores, shards with their log groups, consumer groups) belongs to the
// single mutex Server.mu; request bodies are read, authenticated,
// decompressed and decoded outside it, so the lock is held only for map and
// slice updates.
//
// # Addressing
//
// The SDK names the project as a subdomain of its endpoint: with endpoint
// "127.0.0.1:18001" it sends requests to "http://<project>.127.0.0.1:18001/…"
// and the Host header carries the project. Such a name does not resolve, so
// point the SDK's HTTPClient option (Client.SetHTTPClient, the producer's and
// the consumer library's HTTPClient field) at NewHTTPClient(addr) or
// Server.HTTPClient(), whose transport dials the emulator whatever host the
// URL names. The emulator takes the project from the Host header: the part
// before the first dot, unless the host is an IP address or has no dot (then
// the request names no project).
//
// # Protocol
//
// Every request must carry a valid signature, v1 (Authorization "LOG id:sig",
// HMAC-SHA1 over method, Content-MD5, Content-Type, Date, the x-log-/x-acs-
// headers and the canonical resource) or v4, as the SDK's AuthV4 signs
// ("SLS4-HMAC-SHA256 Credential=id/day/region/sls/aliyun_v4_request,
// Signature=…", HMAC-SHA256 with a key derived for the day and region, over
// a canonical request that covers host, content-type, the x-log-/x-acs-
// headers, the query and the body's SHA-256; see auth_v4.go). A v4 request
// may be signed for any region. A wrong key or signature gets 401 with
// SLS's JSON error body {"errorCode","errorMessage"}; a request time more
// than MaxClockSkew away, RequestTimeExpired. PutLogs accepts a
// protobuf LogGroup compressed with lz4 (raw block), zstd or deflate (or not at
// all), checked against x-log-bodyrawsize; with a hash key (…/shards/route?key=)
// it lands in the shard whose MD5 range holds the key, otherwise shards take
// turns. Each log group is stamped with its receive time; GetCursor resolves
// begin, end and a unix time to a cursor, PullLogs serves a LogGroupList
// compressed as Accept-Encoding asks (lz4 or zstd). Cursors are, as in SLS,
// base64 of a decimal sequence number (the SDK relies on that); clients treat
// them as opaque.
//
// Consumer groups assign shards on the server: each heartbeat refreshes the
// consumer, consumers silent for longer than the group timeout are dropped,
// shards are spread evenly and stickily over the live consumers (see assign),
// and a moved shard is handed to its new owner only once the old owner stops
// listing it in its heartbeats. Checkpoints are stored per shard.
//
// Shards split (at a key) and merge (with the next range) as in SLS: the old
// shards turn read-only, stay readable to their end, take no more writes,
// and new read-write shards with the next ids cover their ranges.
//
// Unless Config.RequireCreate is set, a project and a logstore spring into
// being (with Config.ShardCount shards) on first use, so a test can put logs
// without creating anything. There is no TTL, no query or index, no split by
// shard count; those requests are refused with an SLS error
// rather than half served. PullLogs with a query runs a subset of SPL
// (spl.go: where with = and != joined by and, project) and refuses any
// other statement with ParameterInvalid, for the same reason.
package sls
