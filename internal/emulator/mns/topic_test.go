package mns_test

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"
)

// TestSDKTopics drives topics through the official SDK: create, read and
// list a topic, subscribe queues in the three content formats (one with a
// filter tag), publish, and receive what each queue got.
func TestSDKTopics(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	cli := newClient(t, srv, testKeyID, testSecret)
	topics := ali_mns.NewMNSTopicManager(cli)

	if err := topics.CreateTopic("events", 4096, false); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := topics.CreateTopic("events", 4096, false); !ali_mns.ERR_MNS_TOPIC_ALREADY_EXIST_AND_HAVE_SAME_ATTR.IsEqual(err) {
		t.Fatalf("re-create with same attrs: got %v", err)
	}
	if err := topics.CreateTopic("events", 8192, false); mnsCode(err) != "TopicAlreadyExist" {
		t.Fatalf("re-create with other attrs: got %v", err)
	}
	attr, err := topics.GetTopicAttributes("events")
	if err != nil || attr.TopicName != "events" || attr.MaxMessageSize != 4096 {
		t.Fatalf("attributes: %+v, %v", attr, err)
	}
	if _, err := topics.GetTopicAttributes("nope"); !ali_mns.ERR_MNS_TOPIC_NOT_EXIST.IsEqual(err) {
		t.Fatalf("missing topic: got %v", err)
	}
	list, err := topics.ListTopic("", 10, "ev")
	if err != nil || len(list.Topics) != 1 || !strings.HasSuffix(list.Topics[0].TopicURL, "/topics/events") {
		t.Fatalf("list: %+v, %v", list, err)
	}

	tp := ali_mns.NewMNSTopic("events", cli)
	queues := map[string]ali_mns.AliMNSQueue{}
	for _, sub := range []struct {
		name, tag string
		format    ali_mns.NotifyContentFormatType
	}{{"simple", "", ali_mns.SIMPLIFIED}, {"xml", "", ali_mns.XML}, {"json", "", "JSON"}, {"tagged", "red", ali_mns.SIMPLIFIED}} {
		queues[sub.name] = newQueue(t, cli, "q-"+sub.name, 30)
		err := tp.Subscribe(sub.name, ali_mns.MessageSubsribeRequest{Endpoint: tp.GenerateQueueEndpoint("q-" + sub.name),
			FilterTag: sub.tag, NotifyContentFormat: sub.format})
		if err != nil {
			t.Fatalf("subscribe %s: %v", sub.name, err)
		}
	}
	got, err := tp.GetSubscriptionAttributes("xml")
	if err != nil || got.NotifyContentFormat != ali_mns.XML || !strings.HasSuffix(got.Endpoint, ":queues/q-xml") {
		t.Fatalf("subscription attributes: %+v, %v", got, err)
	}
	if err := tp.Subscribe("web", ali_mns.MessageSubsribeRequest{Endpoint: "http://example.com/hook"}); mnsCode(err) != "EndpointInvalid" {
		t.Fatalf("http endpoint: got %v, want EndpointInvalid", err)
	}

	body := `a & b < c — ünïcode`
	resp, err := tp.PublishMessage(ali_mns.MessagePublishRequest{MessageBody: body})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if resp.MessageId == "" || resp.MessageBodyMD5 != bodyMD5(body) {
		t.Fatalf("publish answer: %+v, want MD5 %s", resp, bodyMD5(body))
	}
	if _, err := tp.PublishMessage(ali_mns.MessagePublishRequest{MessageBody: "tagged", MessageTag: "red"}); err != nil {
		t.Fatalf("publish tagged: %v", err)
	}
	if _, err := tp.PublishMessage(ali_mns.MessagePublishRequest{MessageBody: strings.Repeat("x", 4097)}); mnsCode(err) != "InvalidArgument" {
		t.Fatalf("publish over MaximumMessageSize: got %v", err)
	}
	if _, err := ali_mns.NewMNSTopic("nope", cli).PublishMessage(ali_mns.MessagePublishRequest{MessageBody: "x"}); !ali_mns.ERR_MNS_TOPIC_NOT_EXIST.IsEqual(err) {
		t.Fatalf("publish to a missing topic: got %v", err)
	}

	// SIMPLIFIED: the body as published; the untagged message and the
	// tagged one both reach an unfiltered subscription.
	r, err := batchReceive(queues["simple"], 16)
	if err != nil || len(r.Messages) != 2 || r.Messages[0].MessageBody != body || r.Messages[1].MessageBody != "tagged" {
		t.Fatalf("simplified: %+v, %v", r, err)
	}
	// A filter tag lets only the tagged message through.
	r, err = batchReceive(queues["tagged"], 16)
	if err != nil || len(r.Messages) != 1 || r.Messages[0].MessageBody != "tagged" {
		t.Fatalf("tagged: %+v, %v", r, err)
	}
	// XML: MNS's <Notification>.
	m, err := receive(queues["xml"])
	if err != nil {
		t.Fatalf("xml: %v", err)
	}
	var n struct {
		XMLName          xml.Name `xml:"Notification"`
		TopicName        string
		SubscriptionName string
		MessageId        string
		MessageMD5       string
		Message          string
		PublishTime      int64
	}
	if err := xml.Unmarshal([]byte(m.MessageBody), &n); err != nil || n.Message != body || n.TopicName != "events" ||
		n.SubscriptionName != "xml" || n.MessageId != resp.MessageId || n.MessageMD5 != bodyMD5(body) || n.PublishTime == 0 {
		t.Fatalf("xml notification %+v, %v: %s", n, err, m.MessageBody)
	}
	// JSON: the same fields as a JSON object.
	m, err = receive(queues["json"])
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	var j map[string]any
	if err := json.Unmarshal([]byte(m.MessageBody), &j); err != nil || j["Message"] != body || j["SubscriptionName"] != "json" || j["MessageId"] != resp.MessageId {
		t.Fatalf("json notification %v, %v: %s", j, err, m.MessageBody)
	}

	// A subscription whose queue is gone drops the message, counted.
	if err := ali_mns.NewMNSQueueManager(cli).DeleteQueue("q-simple"); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.PublishMessage(ali_mns.MessagePublishRequest{MessageBody: "lost"}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if d := srv.Dropped(); d != 1 {
		t.Fatalf("dropped %d deliveries, want 1", d)
	}
	if err := tp.Unsubscribe("xml"); err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	if _, err := tp.GetSubscriptionAttributes("xml"); mnsCode(err) != "SubscriptionNotExist" {
		t.Fatalf("after unsubscribe: got %v", err)
	}
	if err := topics.DeleteTopic("events"); err != nil {
		t.Fatalf("delete topic: %v", err)
	}
	if _, err := topics.GetTopicAttributes("events"); !ali_mns.ERR_MNS_TOPIC_NOT_EXIST.IsEqual(err) {
		t.Fatalf("deleted topic: got %v", err)
	}
}
