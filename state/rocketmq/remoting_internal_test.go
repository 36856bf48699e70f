package rocketmq

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

func TestFixJavaJSON(t *testing.T) {
	t.Parallel()
	in := `{"brokerAddrTable":{"b":{"cluster":"c","brokerName":"b","brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"}}}}`
	var ci clusterInfo
	if err := json.Unmarshal(fixJavaJSON([]byte(in)), &ci); err != nil {
		t.Fatal(err)
	}
	if got := ci.BrokerAddrTable["b"].master(); got != "127.0.0.1:10911" {
		t.Errorf("master = %q", got)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()
	in := command{Code: 11, Language: "GO", Version: 1, Opaque: 42, Flag: flagResponse, ExtFields: map[string]string{"a": "b"}, Body: []byte("body")}
	var buf bytes.Buffer
	if err := writeFrame(&buf, &in); err != nil {
		t.Fatal(err)
	}
	out, err := readFrame(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if out.Code != in.Code || out.Opaque != in.Opaque || out.ExtFields["a"] != "b" || string(out.Body) != "body" {
		t.Errorf("round trip = %+v", out)
	}
}

func TestSignIsDeterministic(t *testing.T) {
	t.Parallel()
	creds := primitive.Credentials{AccessKey: "ak", SecretKey: "sk"}
	a := command{ExtFields: map[string]string{"topic": "t", "queueId": "0"}}
	b := command{ExtFields: map[string]string{"queueId": "0", "topic": "t"}}
	sign(&a, creds)
	sign(&b, creds)
	if a.ExtFields["Signature"] == "" || a.ExtFields["Signature"] != b.ExtFields["Signature"] || a.ExtFields["AccessKey"] != "ak" {
		t.Errorf("signatures %q / %q", a.ExtFields["Signature"], b.ExtFields["Signature"])
	}
}

// FuzzReadFrame: a hostile or corrupt peer cannot make readFrame panic or
// allocate beyond maxFrame.
func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	_ = writeFrame(&buf, &command{Code: 0, Opaque: 1, Flag: 1, ExtFields: map[string]string{"offset": "3"}})
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = readFrame(bytes.NewReader(b))
	})
}
