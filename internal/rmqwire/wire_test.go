package rmqwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
)

func frame(header string, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(header)+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(header)))
	return append(append(b, header...), body...)
}

func TestReadFrame(t *testing.T) {
	t.Parallel()
	cmd, err := readFrame(bytes.NewReader(frame(`{"code":0,"opaque":7,"flag":1,"extFields":{"offset":"42"}}`, "body")))
	if err != nil {
		t.Fatal(err)
	}
	if off, ok := cmd.Int("offset"); cmd.Opaque != 7 || !ok || off != 42 || string(cmd.Body) != "body" {
		t.Errorf("%+v", cmd)
	}
	for name, b := range map[string][]byte{
		"too long":          binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, MaxFrame+1), 2),
		"header past end":   binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 100),
		"not JSON":          frame("{", ""),
		"other serialising": append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 6), 1<<24|2), "{}"...),
	} {
		if _, err := readFrame(bytes.NewReader(b)); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: %v, want ErrFrame", name, err)
		}
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(frame(`{"code":0,"flag":1}`, "x"))
	f.Add(frame(`{"code":0,"opaque":1,"flag":1,"extFields":{"offset":"3"}}`, ""))
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = readFrame(bytes.NewReader(b)) })
}

// TestSignature checks the ACL signature: HMAC-SHA1 with the secret key
// over the fields' values in key order (AclUtils.combineRequestContent),
// here computed independently with Python's hmac module.
func TestSignature(t *testing.T) {
	t.Parallel()
	req := Command{ExtFields: map[string]string{"topic": "t", "queueId": "1"}}
	sign(&req, Credentials{AccessKey: "ak", SecretKey: "sk"})
	// HmacSHA1("sk", "ak" + "1" + "t"): values in key order AccessKey, queueId, topic.
	if got := req.ExtFields["Signature"]; got != "pGRs/zNsrkZ23a+A7Nah9fQl7nw=" || req.ExtFields["AccessKey"] != "ak" {
		t.Errorf("signed fields %v", req.ExtFields)
	}
}

// TestCallEndsWithTheConnection: a server that hangs up ends Call with an
// error.
func TestCallEndsWithTheConnection(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
	}()
	c, err := Dial(t.Context(), l.Addr().String(), Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Call(t.Context(), CodeGetMaxOffset, nil, nil, 5e9); err == nil {
		t.Error("Call on a closed connection succeeded")
	}
}
