// Package rocketmq holds the "rocketmq" sink and source.
//
// The sink sends each record as one Apache RocketMQ message, through
// github.com/apache/rocketmq-client-go/v2, in order per key; what follows
// up to the source's section describes it.
//
// The source (source.go; docs/rocketmq-source.md is its guide) reads a
// topic's queues from explicit offsets over the remoting protocol
// (internal/rmqwire), each queue owned by one task by kit.Owner, with one
// pull per queue in flight on one connection per broker, long-polled at
// the queue's end. Positions are per queue, <topic>/<broker>/<queue> →
// the next offset, committed by the engine behind the ack watermark and
// mirrored to the consumer group's broker-side offsets
// (api.CommitListener; past what the filter dropped once a queue's
// records are all committed); lag per queue comes from each pull's answer
// (api.LagReporter). Messages become CloudEvents through kit.RocketMQ.
//
// # Messages
//
// The topic, the tag (TAGS) and the keys (KEYS) are sink parameters of
// package transform/template: a constant (sink.topic=orders) or taken from
// each event (sink.topic.form=JSONPATH, sink.topic.value=$.data.table).
// KEYS holds the keys (default: the record key) and always the event id
// too, so a consumer can find a message by event id and recognise the
// duplicates a replay produces. A record key that is not printable UTF-8
// (a binary key) is written, and hashed for the queue, in base64. Each
// message's id (UNIQ_KEY) is the sink's own, in the clients' layout
// (uniqid.go).
//
// The body follows the shared sink option body (package kit, which also
// holds the CloudEvents RocketMQ binding). With body=structured (the
// default) the body is the CloudEvent in structured JSON and the property
// CE_contenttype is "application/cloudevents+json; charset=UTF-8". With
// body=binary the body is the event's data and every attribute and
// extension is a property named CE_<attribute> (CE_id, CE_source,
// CE_specversion, CE_type, CE_subject, CE_time, CE_dataschema,
// CE_<extension>), except datacontenttype, which is CE_contenttype: the
// binary mode of the CloudEvents RocketMQ binding. With body=data the
// body is the event's data and no CloudEvents property is set. In binary
// and data mode an event without data gets a one-byte body of NUL, which
// the binding's readers take as "no data" (RocketMQ refuses empty bodies).
//
// # Order and delivery
//
// With ordered=true (the default) a record's queue is the FNV-1a hash of
// its key (its sharding key; the rendered keys when the record has none)
// modulo the topic's queue count, so one key's records share a queue.
// Records without either, and all records with ordered=false, take the
// queues in turn. The order holds while the topic's queue count does not
// change, as with any hash-partitioned topic.
//
// Write groups a batch's messages by topic and queue. Each queue's
// messages go out as batch messages of at most batch.size messages and
// max.message.bytes bytes, each sent only after the previous one was
// stored; up to send.parallelism queues are sent to at once. Write returns
// once every send has returned, so when it returns nil every record is
// stored (the engine needs no Flush). The first message to a topic the
// producer has not routed yet goes alone, so the producer learns the
// topic's queues before the rest are grouped. The sink writes each batch
// message's body itself, every message in the layout the producer's own
// batching writes (producer.MarshalMessageBatch), into buffers it keeps
// from one Write to the next, and hands the producer that one message:
// the broker stores, and consumers read, the same messages either way.
//
// # Errors
//
// A record that can never be sent is rejected alone with api.RecordErrors
// (the engine applies errors.tolerance): its topic renders empty or is not
// a valid topic name, a parameter's template fails on its data, it exceeds
// max.message.bytes (or its properties the broker's 32767 bytes), a
// property holds the separator bytes 0x01 or 0x02, or the broker answers
// MESSAGE_ILLEGAL (a refused batch is resent message by message to find
// the culprit). Any other failure (broker or name server unreachable,
// timeouts, broker busy) is api.Retryable, and the engine writes the same
// batch again. The sink remembers which events (source and id) the failed
// Write stored and skips them on that next Write, so a retry neither
// repeats nor reorders them. Only a send that failed after the broker
// stored it (a timeout, also inside the library's own retries) repeats
// messages: delivery is at-least-once, and a key's sequence may repeat a
// stretch but never skips back past what it delivered.
//
// # Position map
//
// The sink is an api.PositionMapper (offsetsync.go): for records whose
// positions are decimal offsets (the rocketmq and kafka sources), it
// keeps per source partition and target queue sync points from the
// record's position to the offset its send returned (a batch message's
// first message's offset, plus the message's index), so a consumer of a
// replicated topic can move to the target cluster through
// api.TranslateOffsets and the REST API's /offsets/mapping. Before a
// Write's sends start, each (source partition, target queue) pair they
// open is registered as pending; after each stored send, a partition's
// first record in the queue and its last one in the send become sync
// points, thinned to one per power-of-two distance below the newest (at
// most 65 per pair, at most 1024 target queues per source partition).
// docs/rocketmq-source.md ("Moving consumers to the target cluster")
// gives the rule and the procedure.
//
// # Client
//
// The producer gets the name servers through a passthrough resolver (the
// library's default resolver calls an external HTTP endpoint), a unique
// instance name per task unless instance.name says otherwise (the library
// shares one client per instance name, and one group per client), and is
// shut down by Close. The library's logrus-based logging goes to slog's
// default logger at warn and above.
//
//	field                          type       default     description
//	nameservers                    list       required    Name server addresses, host:port, comma-separated.
//	topic[.form|.value|.template]  parameter  required    Destination topic. A constant; to take it from the event use topic.form instead. Required: set either this key or topic.form.
//	tag[.form|.value|.template]    parameter  -           Message tag (TAGS), for consumers' tag filters; none when unset or empty. A constant; to take it from the event use tag.form instead.
//	keys[.form|.value|.template]   parameter  -           Message keys (KEYS, space-separated) for lookups; default the record key. The event id is always added. A constant; to take it from the event use keys.form instead.
//	body                           string     structured  structured: the CloudEvent as JSON (content type application/cloudevents+json); binary: the event's data as the body, every attribute and extension as a header (the CloudEvents binding's binary mode); data: the event's data alone, no attributes. One of: structured, binary, data.
//	ordered                        boolean    true        Send all records of one key to one queue (hash of the record key), in order. When false, or for records without a key, queues are used in turn.
//	message.type                   string     NORMAL      The topic's RocketMQ 5 message type. FIFO: each message also carries its message group (__SHARDINGKEY: the key its queue is chosen by, else its keys), which 5.x brokers and proxies read on FIFO topics; needs ordered=true. Keep NORMAL for other topics: a 5.x proxy that checks message types refuses FIFO messages on them. One of: NORMAL, FIFO.
//	producer.group                 string     -           Producer group; default ferry-<connector>.
//	access.key                     string     -           ACL access key; set with secret.key. Secret.
//	secret.key                     string     -           ACL secret key; set with access.key. Secret.
//	send.timeout                   duration   3s          Time one send (one batch message) may take before it counts as failed.
//	retries                        int        2           Immediate resends of a failed send inside one write, before the engine's backoff retries take over.
//	batch.size                     int        256         Most messages in one batch message; a batch goes to one queue.
//	max.message.bytes              int        4194304     Largest message, and largest batch message, in bytes (the broker's maxMessageSize). A larger record is rejected alone.
//	send.parallelism               int        8           Queues sent to at once; messages of one queue are always sent one batch after another.
//	instance.name                  string     -           RocketMQ client instance name; default unique per task. Sinks sharing a name in one process share one client and must use different producer groups.
package rocketmq
