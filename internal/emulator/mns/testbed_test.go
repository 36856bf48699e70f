package mns_test

import (
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	ali_mns "github.com/aliyun/aliyun-mns-go-sdk"

	"github.com/ferryhq/ferry/internal/emulator/mns"
)

// TestTestbedProcess checks the process form (ferry-emulator mns, as
// deploy/testbed/testbed.sh starts it) through the SDK. It runs only when
// the test bed's environment names the emulator.
func TestTestbedProcess(t *testing.T) {
	endpoint := os.Getenv("FERRY_TESTBED_MNS_ENDPOINT")
	if endpoint == "" {
		t.Skip("FERRY_TESTBED_MNS_ENDPOINT not set; start the test bed's mns emulator to run this")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		t.Fatalf("FERRY_TESTBED_MNS_ENDPOINT=%q: %v", endpoint, err)
	}
	cli := ali_mns.NewAliMNSClientWithConfig(ali_mns.AliMNSClientConfig{
		EndPoint:        mns.SDKEndpoint,
		AccessKeyId:     os.Getenv("FERRY_TESTBED_MNS_ACCESS_KEY_ID"),
		AccessKeySecret: os.Getenv("FERRY_TESTBED_MNS_ACCESS_KEY_SECRET"),
		TimeoutSecond:   35,
	})
	cli.SetTransport(mns.Redirect(u.Host))
	name := fmt.Sprintf("testbed-%d", time.Now().UnixNano())
	q := newQueue(t, cli, name, 30)
	defer ali_mns.NewMNSQueueManager(cli).DeleteQueue(name)

	if _, err := q.SendMessage(ali_mns.MessageSendRequest{MessageBody: "over the wire", Priority: 8}); err != nil {
		t.Fatalf("send: %v", err)
	}
	msg, err := receive(q, 1)
	if err != nil || msg.MessageBody != "over the wire" {
		t.Fatalf("receive: %+v, %v", msg, err)
	}
	if err := q.DeleteMessage(msg.ReceiptHandle); err != nil {
		t.Fatalf("delete: %v", err)
	}
}
