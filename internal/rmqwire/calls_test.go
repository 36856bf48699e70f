package rmqwire

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// fakeServer answers every request on 127.0.0.1 with answer(req), which
// returns the response's code, ext fields and body (or, as the body of a
// failure, its remark); it stops when the test ends.
func fakeServer(t *testing.T, answer func(req *Command) (int, map[string]string, string)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					req, err := readFrame(r)
					if err != nil {
						return
					}
					code, ext, body := answer(req)
					resp := Command{Code: code, Opaque: req.Opaque, Flag: flagResponse, ExtFields: ext}
					if code != RespSuccess {
						resp.Remark = body
					}
					h, _ := json.Marshal(resp)
					if _, err := c.Write(frame(string(h), body)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// deadAddr is an address nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// The name server writes integer map keys unquoted (fastjson).
const clusterInfoBody = `{"brokerAddrTable":{"b1":{"cluster":"c1","brokerName":"b1","brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}},` +
	`"b2":{"cluster":"c2","brokerName":"b2","brokerAddrs":{0:"10.0.0.3:10911"}},"b3":{"cluster":"c1","brokerName":"b3","brokerAddrs":{1:"10.0.0.4:10911"}}}}`

const routeBody = `{"queueDatas":[{"brokerName":"b1","readQueueNums":4,"writeQueueNums":4,"perm":6}],` +
	`"brokerDatas":[{"cluster":"c1","brokerName":"b1","brokerAddrs":{0:"10.0.0.1:10911",-1:"x"}}]}`

// TestNameServerCalls: routes and masters are read from the first name
// server that answers, with Java's integer keys, and a topic the name
// server does not know is ErrTopicNotExist.
func TestNameServerCalls(t *testing.T) {
	t.Parallel()
	ns := fakeServer(t, func(req *Command) (int, map[string]string, string) {
		switch {
		case req.Code == CodeGetClusterInfo:
			return RespSuccess, nil, clusterInfoBody
		case req.Code == CodeGetRouteByTopic && req.ExtFields["topic"] == "t":
			return RespSuccess, nil, routeBody
		case req.Code == CodeGetRouteByTopic && req.ExtFields["topic"] == "bad":
			return RespSuccess, nil, "{"
		case req.Code == CodeGetRouteByTopic:
			return RespTopicNotExist, nil, ""
		}
		return RespSystemError, nil, ""
	})
	names := []string{deadAddr(t), ns}
	ctx := t.Context()
	r, err := TopicRoute(ctx, names, Credentials{}, "t", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.QueueDatas) != 1 || r.QueueDatas[0].ReadQueueNums != 4 || !r.QueueDatas[0].Readable() || r.BrokerDatas[0].Master() != "10.0.0.1:10911" {
		t.Errorf("route = %+v", r)
	}
	if _, err := TopicRoute(ctx, names, Credentials{}, "gone", 5*time.Second); !errors.Is(err, ErrTopicNotExist) {
		t.Errorf("unknown topic: %v, want ErrTopicNotExist", err)
	}
	if _, err := TopicRoute(ctx, names, Credentials{}, "bad", 5*time.Second); !errors.Is(err, ErrFrame) {
		t.Errorf("bad body: %v, want ErrFrame", err)
	}
	for cluster, want := range map[string]map[string]string{
		"":   {"b1": "10.0.0.1:10911", "b2": "10.0.0.3:10911"},
		"c1": {"b1": "10.0.0.1:10911"},
		"c9": {},
	} {
		got, err := Masters(ctx, names, Credentials{}, cluster, 5*time.Second)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Masters(%q) = %v, %v; want %v", cluster, got, err, want)
		}
	}
	if _, err := Masters(ctx, []string{deadAddr(t)}, Credentials{}, "", 5*time.Second); err == nil {
		t.Error("Masters with no name server answering succeeded")
	}
}

// TestBrokerCalls: topic creation sends what mqadmin updateTopic sends,
// offsets are read from the answer's ext fields, and refusals carry the
// broker's code.
func TestBrokerCalls(t *testing.T) {
	t.Parallel()
	reqs := make(chan map[string]string, 4)
	broker := fakeServer(t, func(req *Command) (int, map[string]string, string) {
		switch req.Code {
		case CodeCreateTopic:
			reqs <- req.ExtFields
			if req.ExtFields["topic"] == "denied" {
				return RespNoPermission, nil, "no"
			}
			return RespSuccess, nil, ""
		case CodeGetMaxOffset, CodeGetMinOffset:
			if req.ExtFields["topic"] == "nan" {
				return RespSuccess, map[string]string{"offset": "x"}, ""
			}
			q, _ := strconv.Atoi(req.ExtFields["queueId"])
			return RespSuccess, map[string]string{"offset": strconv.Itoa(q*100 + req.Code)}, ""
		case CodeGetTopicConfig:
			return RespSuccess, nil, `{"topicName":"t","attributes":{"+message.type":"FIFO","message.type":"FIFO"}}`
		}
		return RespSystemError, nil, ""
	})
	ctx := t.Context()
	if err := CreateTopic(ctx, broker, Credentials{}, Topic{Name: "t", Queues: 3, Attributes: map[string]string{"message.type": "FIFO", "a": "b"}}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	created := <-reqs
	want := map[string]string{"topic": "t", "defaultTopic": "TBW102", "readQueueNums": "3", "writeQueueNums": "3", "perm": "6",
		"topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false", "attributes": "+a=b,+message.type=FIFO"}
	if !reflect.DeepEqual(created, want) {
		t.Errorf("create request %v, want %v", created, want)
	}
	err := CreateTopic(ctx, broker, Credentials{}, Topic{Name: "denied", Queues: 1}, 5*time.Second)
	if re := (*RefusedError)(nil); !errors.As(err, &re) || re.Code != RespNoPermission || re.Remark != "no" {
		t.Errorf("refused creation: %v, want a RefusedError with code %d", err, RespNoPermission)
	}
	if _, ok := (<-reqs)["attributes"]; ok {
		t.Error("a topic without attributes was sent an attributes field")
	}
	if off, err := MaxOffset(ctx, broker, Credentials{}, "t", 2, 5*time.Second); err != nil || off != 200+CodeGetMaxOffset {
		t.Errorf("MaxOffset = %d, %v", off, err)
	}
	if off, err := MinOffset(ctx, broker, Credentials{}, "t", 1, 5*time.Second); err != nil || off != 100+CodeGetMinOffset {
		t.Errorf("MinOffset = %d, %v", off, err)
	}
	if _, err := MaxOffset(ctx, broker, Credentials{}, "nan", 0, 5*time.Second); !errors.Is(err, ErrFrame) {
		t.Errorf("offset that is not a number: %v, want ErrFrame", err)
	}
	if attrs, err := TopicAttributes(ctx, broker, Credentials{}, "t", 5*time.Second); err != nil || attrs["message.type"] != "FIFO" {
		t.Errorf("TopicAttributes = %v, %v", attrs, err)
	}
	if _, err := MaxOffset(ctx, deadAddr(t), Credentials{}, "t", 0, 5*time.Second); err == nil {
		t.Error("MaxOffset of a broker that is not there succeeded")
	}
}

func TestPullExt(t *testing.T) {
	t.Parallel()
	got := Pull{Group: "g", Topic: "t", Queue: 3, Offset: 42, Max: 32, Hold: 2 * time.Second}.Ext()
	want := map[string]string{"consumerGroup": "g", "topic": "t", "queueId": "3", "queueOffset": "42", "maxMsgNums": "32",
		"sysFlag": strconv.Itoa(PullFlagSubscription | PullFlagSuspend), "commitOffset": "0", "suspendTimeoutMillis": "2000",
		"subscription": "*", "subVersion": "0", "expressionType": "TAG"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("held pull %v, want %v", got, want)
	}
	got = Pull{Topic: "t", Subscription: "a > 1", ExpressionType: "SQL92", SubVersion: "7"}.Ext()
	if got["sysFlag"] != strconv.Itoa(PullFlagSubscription) || got["suspendTimeoutMillis"] != "0" ||
		got["subscription"] != "a > 1" || got["expressionType"] != "SQL92" || got["subVersion"] != "7" {
		t.Errorf("filtered pull without hold %v", got)
	}
}

// TestPull: each answer code becomes a result or an error, over a real
// connection.
func TestPull(t *testing.T) {
	t.Parallel()
	offsets := map[string]string{"nextBeginOffset": "9", "minOffset": "2", "maxOffset": "20"}
	answers := map[string]struct {
		code int
		ext  map[string]string
	}{
		"found":     {RespSuccess, offsets},
		"none":      {RespPullNotFound, offsets},
		"retry":     {RespPullRetryImmediately, nil},
		"moved":     {RespPullOffsetMoved, offsets},
		"forbidden": {RespNoPermission, nil},
	}
	broker := fakeServer(t, func(req *Command) (int, map[string]string, string) {
		a := answers[req.ExtFields["topic"]]
		return a.code, a.ext, "msgs"
	})
	c, err := Dial(t.Context(), broker, Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		topic string
		want  PullResult
	}{
		{"found", PullResult{Body: []byte("msgs"), Next: 9, Min: 2, Max: 20}},
		{"none", PullResult{Next: 9, Min: 2, Max: 20}},
		{"retry", PullResult{Next: 5}},
		{"moved", PullResult{Next: 9, Min: 2, Max: 20, Moved: true}},
	} {
		got, err := c.Pull(t.Context(), Pull{Group: "g", Topic: tc.topic, Offset: 5, Max: 8})
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v", tc.topic, got, err, tc.want)
		}
	}
	_, err = c.Pull(t.Context(), Pull{Group: "g", Topic: "forbidden", Offset: 5, Max: 8})
	if re := (*RefusedError)(nil); !errors.As(err, &re) || re.Code != RespNoPermission {
		t.Errorf("refused pull: %v, want a RefusedError", err)
	}
}

// TestSendFrame: what Send writes is a frame readFrame reads back, signed
// when there are credentials, without touching the caller's map.
func TestSendFrame(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &Conn{c: a, r: bufio.NewReader(a), creds: Credentials{AccessKey: "ak", SecretKey: "sk"}}
	ext := map[string]string{"topic": "t"}
	got := make(chan *Command, 1)
	go func() {
		cmd, err := readFrame(b)
		if err != nil {
			t.Error(err)
		}
		got <- cmd
	}()
	op, err := c.Send(CodeGetMaxOffset, ext, []byte("body"), time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	cmd := <-got
	if cmd.Code != CodeGetMaxOffset || cmd.Opaque != op || cmd.Flag != 0 || string(cmd.Body) != "body" ||
		cmd.ExtFields["topic"] != "t" || cmd.ExtFields["AccessKey"] != "ak" || cmd.ExtFields["Signature"] == "" {
		t.Errorf("sent %+v", cmd)
	}
	if len(ext) != 1 {
		t.Errorf("Send changed the caller's ext fields: %v", ext)
	}
}
