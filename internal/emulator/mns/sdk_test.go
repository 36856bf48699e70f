package mns_test

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"

	"github.com/ferryhq/ferry/internal/emulator/mns"
	"github.com/ferryhq/ferry/internal/emulator/mns/mnstest"
)

// These tests drive the emulator only through the official Go SDK, so they
// prove the wire protocol (paths, headers, signature, XML) matches what the
// SDK speaks to real MNS.

const (
	testKeyID  = mnstest.KeyID
	testSecret = mnstest.Secret
)

// startServer runs an emulator on an ephemeral port for the test's lifetime.
func startServer(t *testing.T) *mns.Server { return mnstest.Start(t, mns.Config{}) }

// newClient returns an SDK client that signs with secret and reaches srv.
func newClient(t *testing.T, srv *mns.Server, keyID, secret string) ali_mns.MNSClient {
	t.Helper()
	cli := ali_mns.NewAliMNSClientWithConfig(ali_mns.AliMNSClientConfig{
		EndPoint:        mns.SDKEndpoint,
		AccessKeyId:     keyID,
		AccessKeySecret: secret,
		TimeoutSecond:   35,
	})
	cli.SetTransport(mns.Redirect(srv.Addr()))
	return cli
}

// newQueue creates a queue through the SDK and returns a handle to it.
func newQueue(t *testing.T, cli ali_mns.MNSClient, name string, visibility int32) ali_mns.AliMNSQueue {
	t.Helper()
	mgr := ali_mns.NewMNSQueueManager(cli)
	if err := mgr.CreateQueue(name, 0, 65536, 345600, visibility, 0, 2); err != nil {
		t.Fatalf("CreateQueue(%s): %v", name, err)
	}
	return ali_mns.NewMNSQueue(name, cli)
}

// setup starts a server and creates one queue on it through the SDK.
func setup(t *testing.T, queueName string, visibility int32) (*mns.Server, ali_mns.MNSClient, ali_mns.AliMNSQueue) {
	t.Helper()
	srv := startServer(t)
	cli := newClient(t, srv, testKeyID, testSecret)
	return srv, cli, newQueue(t, cli, queueName, visibility)
}

func receive(q ali_mns.AliMNSQueue, wait ...int64) (ali_mns.MessageReceiveResponse, error) {
	rc := make(chan ali_mns.MessageReceiveResponse, len(wait)+1)
	ec := make(chan error, len(wait)+1)
	q.ReceiveMessage(rc, ec, wait...)
	select {
	case r := <-rc:
		return r, nil
	case err := <-ec:
		return ali_mns.MessageReceiveResponse{}, err
	}
}

func batchReceive(q ali_mns.AliMNSQueue, n int32, wait ...int64) (ali_mns.BatchMessageReceiveResponse, error) {
	rc := make(chan ali_mns.BatchMessageReceiveResponse, len(wait)+1)
	ec := make(chan error, len(wait)+1)
	q.BatchReceiveMessage(rc, ec, n, wait...)
	select {
	case r := <-rc:
		return r, nil
	case err := <-ec:
		return ali_mns.BatchMessageReceiveResponse{}, err
	}
}

// codeRE finds the MNS error code in the SDK's error text
// ("ali_mns response status error,code: X, message: ..."); the SDK keeps
// the decoded <Error> body nowhere else.
var codeRE = regexp.MustCompile(`status error,code: ([A-Za-z]+),`)

// mnsCode returns the MNS error code the SDK decoded from the XML body.
func mnsCode(err error) string {
	if err == nil {
		return ""
	}
	if m := codeRE.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	return ""
}

func bodyMD5(s string) string {
	sum := md5.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func TestSDKQueueManagement(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	cli := newClient(t, srv, testKeyID, testSecret)
	mgr := ali_mns.NewMNSQueueManager(cli)

	if err := mgr.CreateQueue("orders", 0, 65536, 345600, 30, 5, 2); err != nil {
		t.Fatalf("create: %v", err)
	}
	// Same attributes again: MNS answers 204, which the SDK turns into its
	// "already exist and have same attr" error.
	err := mgr.CreateQueue("orders", 0, 65536, 345600, 30, 5, 2)
	if !ali_mns.ERR_MNS_QUEUE_ALREADY_EXIST_AND_HAVE_SAME_ATTR.IsEqual(err) {
		t.Fatalf("re-create with same attrs: got %v", err)
	}
	// Different attributes: 409 QueueAlreadyExist.
	if err := mgr.CreateQueue("orders", 0, 65536, 345600, 60, 5, 2); mnsCode(err) != "QueueAlreadyExist" {
		t.Fatalf("re-create with other attrs: got %v", err)
	}
	if err := mgr.CreateSimpleQueue("payments"); err != nil {
		t.Fatalf("create payments: %v", err)
	}

	attr, err := mgr.GetQueueAttributes("orders")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if attr.QueueName != "orders" || attr.VisibilityTimeout != 30 || attr.PollingWaitSeconds != 5 ||
		attr.MaxMessageSize != 65536 || attr.MessageRetentionPeriod != 345600 || attr.CreateTime == 0 {
		t.Fatalf("attributes: %+v", attr)
	}

	if err := mgr.SetQueueAttributesWithOptions("orders", ali_mns.WithVisibilityTimeout(45)); err != nil {
		t.Fatalf("set: %v", err)
	}
	// Elements the SDK omits keep their values; it always sends
	// <PollingWaitSeconds> (0 here), which MNS then applies.
	if attr, _ = mgr.GetQueueAttributes("orders"); attr.VisibilityTimeout != 45 ||
		attr.MessageRetentionPeriod != 345600 || attr.PollingWaitSeconds != 0 {
		t.Fatalf("after set: %+v", attr)
	}

	list, err := mgr.ListQueue("", 1, "")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Queues) != 1 || !strings.HasSuffix(list.Queues[0].QueueURL, "/queues/orders") || list.NextMarker != "payments" {
		t.Fatalf("list page 1: %+v", list)
	}
	list, err = mgr.ListQueue(list.NextMarker, 1, "")
	if err != nil || len(list.Queues) != 1 || !strings.HasSuffix(list.Queues[0].QueueURL, "/queues/payments") || list.NextMarker != "" {
		t.Fatalf("list page 2: %+v, %v", list, err)
	}
	details, err := mgr.ListQueueDetail("", 10, "pay")
	if err != nil || len(details.Attrs) != 1 || details.Attrs[0].QueueName != "payments" {
		t.Fatalf("list detail: %+v, %v", details, err)
	}

	if err := mgr.DeleteQueue("orders"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := mgr.GetQueueAttributes("orders"); mnsCode(err) != "QueueNotExist" {
		t.Fatalf("get deleted queue: got %v", err)
	}
	q := ali_mns.NewMNSQueue("orders", cli)
	if _, err := q.SendMessage(ali_mns.MessageSendRequest{MessageBody: "x"}); mnsCode(err) != "QueueNotExist" {
		t.Fatalf("send to deleted queue: got %v", err)
	}
	if err := mgr.CreateSimpleQueue("9bad"); mnsCode(err) != "InvalidQueueName" {
		t.Fatalf("bad queue name: got %v", err)
	}
}

func TestSDKSendReceiveDelete(t *testing.T) {
	t.Parallel()
	_, _, q := setup(t, "events", 30)

	// The SDK sends MessageBody as given; base64 is the caller's choice, and
	// the emulator must hand back exactly what was sent.
	bodies := []string{"plain <xml> & text", base64.StdEncoding.EncodeToString([]byte("binary\x00payload"))}
	ids := map[string]string{}
	for _, b := range bodies {
		resp, err := q.SendMessage(ali_mns.MessageSendRequest{MessageBody: b, Priority: 8})
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		if resp.MessageId == "" || resp.MessageBodyMD5 != bodyMD5(b) {
			t.Fatalf("send response %+v, want MD5 %s", resp, bodyMD5(b))
		}
		ids[resp.MessageId] = b
	}

	for range bodies {
		msg, err := receive(q)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if want, ok := ids[msg.MessageId]; !ok || msg.MessageBody != want {
			t.Fatalf("received %+v, not one of the sent messages", msg)
		}
		if msg.MessageBodyMD5 != bodyMD5(msg.MessageBody) || msg.DequeueCount != 1 || msg.ReceiptHandle == "" ||
			msg.EnqueueTime == 0 || msg.FirstDequeueTime == 0 || msg.NextVisibleTime <= msg.FirstDequeueTime || msg.Priority != 8 {
			t.Fatalf("received message fields: %+v", msg)
		}
		delete(ids, msg.MessageId)
		if err := q.DeleteMessage(msg.ReceiptHandle); err != nil {
			t.Fatalf("delete: %v", err)
		}
		// The handle is now stale: the message is gone.
		if err := q.DeleteMessage(msg.ReceiptHandle); mnsCode(err) != "MessageNotExist" {
			t.Fatalf("second delete: got %v", err)
		}
	}

	// Empty queue, no wait: 404 MessageNotExist at once.
	start := time.Now()
	_, err := receive(q)
	if !ali_mns.ERR_MNS_MESSAGE_NOT_EXIST.IsEqual(err) {
		t.Fatalf("receive from empty queue: got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second { // generous: the CPU is shared
		t.Fatalf("short poll took %v", d)
	}
	if err := q.DeleteMessage("not-a-handle"); mnsCode(err) != "ReceiptHandleError" {
		t.Fatalf("delete with garbage handle: got %v", err)
	}
}

func TestSDKPriorityAndDelay(t *testing.T) {
	t.Parallel()
	_, cli, q := setup(t, "prio", 30)

	for _, m := range []ali_mns.MessageSendRequest{
		{MessageBody: "low", Priority: 16},
		{MessageBody: "high", Priority: 1},
		{MessageBody: "later", Priority: 1, DelaySeconds: 1},
	} {
		resp, err := q.SendMessage(m)
		if err != nil {
			t.Fatalf("send %q: %v", m.MessageBody, err)
		}
		if (m.DelaySeconds > 0) != (resp.ReceiptHandle != "") {
			t.Fatalf("send %q: receipt handle %q (only delayed messages get one)", m.MessageBody, resp.ReceiptHandle)
		}
	}
	attr, err := ali_mns.NewMNSQueueManager(cli).GetQueueAttributes("prio")
	if err != nil || attr.ActiveMessages != 2 || attr.DelayMessages != 1 {
		t.Fatalf("attributes %+v, %v; want 2 active, 1 delayed", attr, err)
	}
	got, err := batchReceive(q, 16)
	if err != nil {
		t.Fatalf("batch receive: %v", err)
	}
	if len(got.Messages) != 2 || got.Messages[0].MessageBody != "high" || got.Messages[1].MessageBody != "low" {
		t.Fatalf("want [high low], got %+v", got.Messages)
	}
	// The delayed message turns up once its delay has passed; a long poll
	// waits for it.
	msg, err := receive(q, 3)
	if err != nil || msg.MessageBody != "later" {
		t.Fatalf("delayed message: %+v, %v", msg, err)
	}
}

func TestSDKBatch(t *testing.T) {
	t.Parallel()
	_, cli, q := setup(t, "batch", 30)

	var reqs []ali_mns.MessageSendRequest
	for i := range 5 {
		reqs = append(reqs, ali_mns.MessageSendRequest{MessageBody: strings.Repeat("m", i+1), Priority: 8})
	}
	sent, err := q.BatchSendMessage(reqs...)
	if err != nil {
		t.Fatalf("batch send: %v", err)
	}
	if len(sent.Messages) != 5 {
		t.Fatalf("batch send returned %d entries", len(sent.Messages))
	}
	for i, e := range sent.Messages {
		if e.MessageId == "" || e.MessageBodyMD5 != bodyMD5(reqs[i].MessageBody) || e.ErrorCode != "" {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}

	first, err := batchReceive(q, 3)
	if err != nil || len(first.Messages) != 3 {
		t.Fatalf("batch receive 3: %d, %v", len(first.Messages), err)
	}
	rest, err := batchReceive(q, 16)
	if err != nil || len(rest.Messages) != 2 {
		t.Fatalf("batch receive rest: %d, %v", len(rest.Messages), err)
	}
	for i, m := range append(first.Messages, rest.Messages...) {
		if m.MessageBody != reqs[i].MessageBody || m.MessageId != sent.Messages[i].MessageId {
			t.Fatalf("message %d out of order: %+v", i, m)
		}
	}
	if _, err := batchReceive(q, 16); !ali_mns.ERR_MNS_MESSAGE_NOT_EXIST.IsEqual(err) {
		t.Fatalf("batch receive from drained queue: got %v", err)
	}

	var handles []string
	for _, m := range first.Messages {
		handles = append(handles, m.ReceiptHandle)
	}
	if resp, err := q.BatchDeleteMessage(handles...); err != nil || len(resp.FailedMessages) != 0 {
		t.Fatalf("batch delete: %+v, %v", resp, err)
	}
	// One stale handle among good ones: the good ones are deleted, the
	// stale one is reported per entry and the SDK returns its batch error.
	mixed := []string{rest.Messages[0].ReceiptHandle, handles[0], rest.Messages[1].ReceiptHandle}
	resp, err := q.BatchDeleteMessage(mixed...)
	if !ali_mns.ERR_MNS_BATCH_OP_FAIL.IsEqual(err) {
		t.Fatalf("batch delete with a stale handle: got %v", err)
	}
	if len(resp.FailedMessages) != 1 || resp.FailedMessages[0].ReceiptHandle != handles[0] ||
		resp.FailedMessages[0].ErrorCode != "MessageNotExist" {
		t.Fatalf("failed entries: %+v", resp.FailedMessages)
	}
	attr, err := ali_mns.NewMNSQueueManager(cli).GetQueueAttributes("batch")
	if err != nil || attr.ActiveMessages+attr.InactiveMessages+attr.DelayMessages != 0 {
		t.Fatalf("queue not empty after deletes: %+v, %v", attr, err)
	}

	// A batch with an oversized message: the rest are enqueued, the bad one
	// is reported, and the SDK reports the batch failure.
	big := strings.Repeat("x", 65537)
	part, err := q.BatchSendMessage(
		ali_mns.MessageSendRequest{MessageBody: "ok", Priority: 8},
		ali_mns.MessageSendRequest{MessageBody: big, Priority: 8})
	if !ali_mns.ERR_MNS_BATCH_OP_FAIL.IsEqual(err) || len(part.Messages) != 2 ||
		part.Messages[0].MessageId == "" || part.Messages[1].ErrorCode != "InvalidArgument" {
		t.Fatalf("partial batch send: %+v, %v", part, err)
	}
}

func TestSDKLongPolling(t *testing.T) {
	t.Parallel()
	_, cli, q := setup(t, "poll", 30)

	// A receive that waits, and a message sent during the wait. The sender
	// has its own queue handle: the SDK's per-handle QPS monitor is not
	// safe for concurrent use.
	sender := ali_mns.NewMNSQueue("poll", cli)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(300 * time.Millisecond)
		if _, err := sender.SendMessage(ali_mns.MessageSendRequest{MessageBody: "wake up", Priority: 8}); err != nil {
			t.Errorf("send during wait: %v", err)
		}
	}()
	start := time.Now()
	msg, err := receive(q, 5)
	waited := time.Since(start)
	wg.Wait()
	if err != nil || msg.MessageBody != "wake up" {
		t.Fatalf("long poll: %+v, %v", msg, err)
	}
	if waited < 250*time.Millisecond || waited > 3*time.Second {
		t.Fatalf("long poll returned after %v; want soon after the send at 300ms", waited)
	}

	// Nothing arrives: the poll lasts waitseconds, then MessageNotExist.
	start = time.Now()
	_, err = batchReceive(q, 4, 1)
	if !ali_mns.ERR_MNS_MESSAGE_NOT_EXIST.IsEqual(err) {
		t.Fatalf("empty long poll: got %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
		t.Fatalf("empty long poll took %v, want about 1s", d)
	}
}

func TestSDKVisibility(t *testing.T) {
	t.Parallel()
	_, _, q := setup(t, "vis", 1) // 1s: the shortest visibility timeout MNS allows

	if _, err := q.SendMessage(ali_mns.MessageSendRequest{MessageBody: "again", Priority: 8}); err != nil {
		t.Fatal(err)
	}
	first, err := receive(q)
	if err != nil || first.DequeueCount != 1 {
		t.Fatalf("first receive: %+v, %v", first, err)
	}
	// Invisible while its visibility timeout runs.
	if _, err := receive(q); !ali_mns.ERR_MNS_MESSAGE_NOT_EXIST.IsEqual(err) {
		t.Fatalf("receive during visibility timeout: got %v", err)
	}
	// Reappears after it, with DequeueCount 2 and a new handle; a long poll
	// is woken by the timeout, not by a send.
	second, err := receive(q, 5)
	if err != nil {
		t.Fatalf("receive after visibility timeout: %v", err)
	}
	if second.MessageId != first.MessageId || second.DequeueCount != 2 ||
		second.ReceiptHandle == first.ReceiptHandle || second.FirstDequeueTime != first.FirstDequeueTime {
		t.Fatalf("redelivery: first %+v second %+v", first, second)
	}
	// The first handle is stale now.
	if err := q.DeleteMessage(first.ReceiptHandle); mnsCode(err) != "ReceiptHandleError" {
		t.Fatalf("delete with superseded handle: got %v", err)
	}

	// ChangeMessageVisibility extends the timeout and replaces the handle.
	changed, err := q.ChangeMessageVisibility(second.ReceiptHandle, 30)
	if err != nil {
		t.Fatalf("change visibility: %v", err)
	}
	if changed.ReceiptHandle == "" || changed.ReceiptHandle == second.ReceiptHandle ||
		changed.NextVisibleTime < time.Now().Add(25*time.Second).UnixMilli() {
		t.Fatalf("change visibility response: %+v", changed)
	}
	if _, err := q.ChangeMessageVisibility(second.ReceiptHandle, 30); mnsCode(err) != "ReceiptHandleError" {
		t.Fatalf("change visibility with old handle: got %v", err)
	}
	if _, err := q.ChangeMessageVisibility(changed.ReceiptHandle, 0); mnsCode(err) != "InvalidArgument" {
		t.Fatalf("change visibility to 0s: got %v", err)
	}
	time.Sleep(1100 * time.Millisecond) // past the original 1s timeout
	if _, err := receive(q); !ali_mns.ERR_MNS_MESSAGE_NOT_EXIST.IsEqual(err) {
		t.Fatalf("message visible despite extended timeout: got %v", err)
	}
	if err := q.DeleteMessage(changed.ReceiptHandle); err != nil {
		t.Fatalf("delete with new handle: %v", err)
	}
}

func TestSDKPeek(t *testing.T) {
	t.Parallel()
	_, _, q := setup(t, "peek", 30)
	if _, err := q.SendMessage(ali_mns.MessageSendRequest{MessageBody: "look", Priority: 8}); err != nil {
		t.Fatal(err)
	}
	rc := make(chan ali_mns.MessageReceiveResponse, 1)
	ec := make(chan error, 1)
	q.PeekMessage(rc, ec)
	select {
	case m := <-rc:
		if m.MessageBody != "look" || m.ReceiptHandle != "" || m.DequeueCount != 0 {
			t.Fatalf("peek: %+v", m)
		}
	case err := <-ec:
		t.Fatalf("peek: %v", err)
	}
	if m, err := receive(q); err != nil || m.DequeueCount != 1 {
		t.Fatalf("receive after peek: %+v, %v", m, err)
	}
}

func TestSDKAuthErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	good := newClient(t, srv, testKeyID, testSecret)
	newQueue(t, good, "secure", 30)

	tests := []struct {
		name, keyID, secret, code string
	}{
		{"wrong secret", testKeyID, "not-the-secret", "SignatureDoesNotMatch"},
		{"unknown key id", "LTAI-someone-else", testSecret, "InvalidAccessKeyId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := ali_mns.NewMNSQueue("secure", newClient(t, srv, tt.keyID, tt.secret))
			_, err := q.SendMessage(ali_mns.MessageSendRequest{MessageBody: "x"})
			if mnsCode(err) != tt.code {
				t.Fatalf("send: got %v, want %s", err, tt.code)
			}
			if tt.code == "SignatureDoesNotMatch" && !ali_mns.ERR_MNS_SIGNATURE_DOES_NOT_MATCH.IsEqual(err) {
				t.Fatalf("SDK did not map the error to its typed error: %v", err)
			}
		})
	}
}

// TestSDKSendFault: Config.SendFault fails the entries it names with the
// code it returns, the others are enqueued, and the SDK reports the batch
// failure with per-entry results.
func TestSDKSendFault(t *testing.T) {
	t.Parallel()
	srv, err := mns.New(mns.Config{AccessKeyID: testKeyID, AccessKeySecret: testSecret,
		SendFault: func(queue, body string) string {
			if queue == "faulty" && strings.HasPrefix(body, "fail") {
				return "InternalError"
			}
			return ""
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	q := newQueue(t, newClient(t, srv, testKeyID, testSecret), "faulty", 30)
	resp, err := q.BatchSendMessage(
		ali_mns.MessageSendRequest{MessageBody: "ok-1", Priority: 8},
		ali_mns.MessageSendRequest{MessageBody: "fail-2", Priority: 8},
		ali_mns.MessageSendRequest{MessageBody: "ok-3", Priority: 8})
	if !ali_mns.ERR_MNS_BATCH_OP_FAIL.IsEqual(err) || len(resp.Messages) != 3 ||
		resp.Messages[0].MessageId == "" || resp.Messages[1].ErrorCode != "InternalError" || resp.Messages[2].MessageId == "" {
		t.Fatalf("batch with an injected fault: %+v, %v", resp, err)
	}
	got, err := batchReceive(q, 16)
	if err != nil || len(got.Messages) != 2 || got.Messages[0].MessageBody != "ok-1" || got.Messages[1].MessageBody != "ok-3" {
		t.Fatalf("enqueued: %+v, %v", got, err)
	}
}
