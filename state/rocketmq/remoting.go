package rocketmq

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// This file is a minimal client of RocketMQ's remoting protocol for the
// calls rocketmq-client-go cannot make the way the store needs them: its
// pull holds a request at a queue's end for 20 s and ignores ctx (so a
// store could not close promptly), it exposes no queue max/min offset, and
// its admin CreateTopic discards the broker's answer. Sends stay on the
// library's producer.
//
// Frame: int32 total length (everything after it), int32 header length
// with the serialisation type in the top byte (0 = JSON), the JSON header
// {code, language, version, opaque, flag, remark, extFields}, the body.

// Request and response codes used here (RequestCode/ResponseCode in the
// Java sources).
const (
	codePullMessage       = 11
	codeCreateTopic       = 17
	codeGetMaxOffset      = 30
	codeGetMinOffset      = 31
	codeGetRouteByTopic   = 105
	codeGetClusterInfo    = 106
	respSuccess           = 0
	respTopicNotExist     = 17
	respPullNotFound      = 19
	respPullRetry         = 20
	respPullOffsetMoved   = 21
	flagResponse          = 1
	pullFlagSuspend       = 1 << 1 // hold the request at the queue's end (long polling)
	pullFlagSubscription  = 1 << 2 // the subscription travels in the request
	maxFrame              = 64 << 20
	remotingVersion       = 317 // V4_9_x: the broker only needs a plausible client version
	remotingLanguage      = "GO"
	defaultRequestTimeout = 5 * time.Second
	// holdSlack is added to a long poll's hold for its timeout: the
	// broker checks held requests only every 5 s, so it may answer up to
	// then after the hold ends.
	holdSlack = 15 * time.Second
)

// command is one remoting request or response.
type command struct {
	Code      int               `json:"code"`
	Language  string            `json:"language"`
	Version   int               `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int               `json:"flag"`
	Remark    string            `json:"remark,omitempty"`
	ExtFields map[string]string `json:"extFields,omitempty"`
	Body      []byte            `json:"-"`
}

var opaqueSeq atomic.Int32

// conn is one TCP connection carrying one request at a time; its owner
// serialises calls. Closing it aborts a call in flight.
type conn struct {
	c     net.Conn
	r     *bufio.Reader
	creds primitive.Credentials
}

func dial(ctx context.Context, addr string, creds primitive.Credentials) (*conn, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %v", ErrBroker, addr, err)
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 64<<10), creds: creds}, nil
}

func (c *conn) Close() error { return c.c.Close() }

// call sends a request and waits for its response until ctx ends or
// timeout passes. Frames with another opaque (stale responses of an
// aborted call, requests the server pushes) are skipped.
func (c *conn) call(ctx context.Context, code int, ext map[string]string, body []byte, timeout time.Duration) (*command, error) {
	req := command{Code: code, Language: remotingLanguage, Version: remotingVersion, Opaque: opaqueSeq.Add(1), ExtFields: maps.Clone(ext), Body: body}
	if req.ExtFields == nil {
		req.ExtFields = map[string]string{}
	}
	if !c.creds.IsEmpty() {
		sign(&req, c.creds)
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.c.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBroker, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := writeFrame(c.c, &req); err != nil {
		return nil, c.fail(ctx, err)
	}
	for {
		resp, err := readFrame(c.r)
		if err != nil {
			return nil, c.fail(ctx, err)
		}
		if resp.Flag&flagResponse != 0 && resp.Opaque == req.Opaque {
			return resp, nil
		}
	}
}

func (c *conn) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %s: %v", ErrBroker, c.c.RemoteAddr(), err)
}

// sign adds the ACL signature: HMAC-SHA1 over the values of the ext
// fields (AccessKey included) in key order, then the body.
func sign(req *command, creds primitive.Credentials) {
	req.ExtFields["AccessKey"] = creds.AccessKey
	if creds.SecurityToken != "" {
		req.ExtFields["SecurityToken"] = creds.SecurityToken
	}
	mac := hmac.New(sha1.New, []byte(creds.SecretKey))
	for _, k := range slices.Sorted(maps.Keys(req.ExtFields)) {
		io.WriteString(mac, req.ExtFields[k])
	}
	mac.Write(req.Body)
	req.ExtFields["Signature"] = base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func writeFrame(w io.Writer, cmd *command) error {
	header, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	buf := make([]byte, 8, 8+len(header)+len(cmd.Body))
	binary.BigEndian.PutUint32(buf[0:], uint32(4+len(header)+len(cmd.Body)))
	binary.BigEndian.PutUint32(buf[4:], uint32(len(header))) // top byte 0: JSON
	buf = append(append(buf, header...), cmd.Body...)
	_, err = w.Write(buf)
	return err
}

func readFrame(r io.Reader) (*command, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, err
	}
	total := binary.BigEndian.Uint32(pre[0:])
	hword := binary.BigEndian.Uint32(pre[4:])
	hlen := hword & 0xffffff
	if total > maxFrame || hlen+4 > total {
		return nil, fmt.Errorf("bad frame: length %d, header %d", total, hlen)
	}
	if typ := hword >> 24; typ != 0 {
		return nil, fmt.Errorf("frame serialised with type %d, want JSON", typ)
	}
	rest := make([]byte, total-4)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, err
	}
	cmd, err := decodeHeader(rest[:hlen])
	if err != nil {
		return nil, err
	}
	cmd.Body = rest[hlen:]
	return cmd, nil
}

func decodeHeader(b []byte) (*command, error) {
	var cmd command
	if err := json.Unmarshal(b, &cmd); err != nil {
		return nil, fmt.Errorf("bad frame header: %v", err)
	}
	return &cmd, nil
}

// javaIntKeys matches the unquoted integer map keys the name server writes
// (fastjson's {0:"127.0.0.1:10911"}), which Go's JSON refuses.
var javaIntKeys = regexp.MustCompile(`([{,])(-?\d+):`)

func fixJavaJSON(b []byte) []byte { return javaIntKeys.ReplaceAll(b, []byte(`$1"$2":`)) }

// brokerData is a broker group: its name and its addresses by broker id
// (0 is the master).
type brokerData struct {
	Cluster     string            `json:"cluster"`
	BrokerName  string            `json:"brokerName"`
	BrokerAddrs map[string]string `json:"brokerAddrs"`
}

func (b brokerData) master() string { return b.BrokerAddrs["0"] }

type queueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
}

type topicRoute struct {
	QueueDatas  []queueData  `json:"queueDatas"`
	BrokerDatas []brokerData `json:"brokerDatas"`
}

type clusterInfo struct {
	BrokerAddrTable map[string]brokerData `json:"brokerAddrTable"`
}

// nameServers asks each name server in turn until one answers.
type nameServers struct {
	addrs []string
	creds primitive.Credentials
}

func (n nameServers) call(ctx context.Context, code int, ext map[string]string) (*command, error) {
	var last error
	for _, addr := range n.addrs {
		c, err := dial(ctx, addr, n.creds)
		if err != nil {
			last = err
			continue
		}
		resp, err := c.call(ctx, code, ext, nil, defaultRequestTimeout)
		c.Close()
		if err != nil {
			last = err
			continue
		}
		return resp, nil
	}
	return nil, last
}

// route returns a topic's route, or an error wrapping ErrTopic when the
// name server does not know the topic.
func (n nameServers) route(ctx context.Context, topic string) (topicRoute, error) {
	resp, err := n.call(ctx, codeGetRouteByTopic, map[string]string{"topic": topic})
	if err != nil {
		return topicRoute{}, err
	}
	if resp.Code == respTopicNotExist {
		return topicRoute{}, fmt.Errorf("%w: %s has no route", ErrTopic, topic)
	}
	if resp.Code != respSuccess {
		return topicRoute{}, fmt.Errorf("%w: route of %s: code %d: %s", ErrBroker, topic, resp.Code, resp.Remark)
	}
	var r topicRoute
	if err := json.Unmarshal(fixJavaJSON(resp.Body), &r); err != nil {
		return topicRoute{}, fmt.Errorf("%w: route of %s: %v", ErrBroker, topic, err)
	}
	return r, nil
}

// masters returns every master broker of the name servers' clusters
// (brokerName → address), optionally only those of one broker cluster.
func (n nameServers) masters(ctx context.Context, cluster string) (map[string]string, error) {
	resp, err := n.call(ctx, codeGetClusterInfo, nil)
	if err != nil {
		return nil, err
	}
	if resp.Code != respSuccess {
		return nil, fmt.Errorf("%w: cluster info: code %d: %s", ErrBroker, resp.Code, resp.Remark)
	}
	var ci clusterInfo
	if err := json.Unmarshal(fixJavaJSON(resp.Body), &ci); err != nil {
		return nil, fmt.Errorf("%w: cluster info: %v", ErrBroker, err)
	}
	out := map[string]string{}
	for name, b := range ci.BrokerAddrTable {
		if addr := b.master(); addr != "" && (cluster == "" || b.Cluster == cluster) {
			out[name] = addr
		}
	}
	return out, nil
}

// brokerCall is one request on a fresh connection to a broker.
func brokerCall(ctx context.Context, addr string, creds primitive.Credentials, code int, ext map[string]string) (*command, error) {
	c, err := dial(ctx, addr, creds)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.call(ctx, code, ext, nil, defaultRequestTimeout)
}

// createTopic asks one broker to create (or update) a topic with n queues
// and checks its answer.
func createTopic(ctx context.Context, addr string, creds primitive.Credentials, topic string, n int) error {
	resp, err := brokerCall(ctx, addr, creds, codeCreateTopic, map[string]string{
		"topic":           topic,
		"defaultTopic":    "TBW102",
		"readQueueNums":   strconv.Itoa(n),
		"writeQueueNums":  strconv.Itoa(n),
		"perm":            "6", // read + write
		"topicFilterType": "SINGLE_TAG",
		"topicSysFlag":    "0",
		"order":           "false",
	})
	if err != nil {
		return err
	}
	if resp.Code != respSuccess {
		return fmt.Errorf("%w: create %s on %s: code %d: %s", ErrTopic, topic, addr, resp.Code, resp.Remark)
	}
	return nil
}

// queueOffset asks a broker for a queue's max (one past the last message)
// or min (first message still stored) offset.
func queueOffset(ctx context.Context, addr string, creds primitive.Credentials, topic string, queue int32, max bool) (int64, error) {
	code := codeGetMinOffset
	if max {
		code = codeGetMaxOffset
	}
	resp, err := brokerCall(ctx, addr, creds, code, map[string]string{"topic": topic, "queueId": strconv.Itoa(int(queue))})
	if err != nil {
		return 0, err
	}
	if resp.Code != respSuccess {
		return 0, fmt.Errorf("%w: offset of %s/%d: code %d: %s", ErrBroker, topic, queue, resp.Code, resp.Remark)
	}
	v, err := strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: offset of %s/%d: %q", ErrBroker, topic, queue, resp.ExtFields["offset"])
	}
	return v, nil
}

// pullResult is one pull's answer: the messages found, where to pull
// next, and whether the requested offset was no longer (or not yet) valid.
type pullResult struct {
	msgs      []*primitive.MessageExt
	next      int64
	minOffset int64
	maxOffset int64
	moved     bool // the broker moved the offset: the one asked for is gone
}

// pull reads up to max messages of a queue from an explicit offset. At the
// queue's end the broker holds the request up to hold (long polling), so
// a new message is seen as soon as it is stored.
func (c *conn) pull(ctx context.Context, group, topic string, queue int32, from int64, max int, hold time.Duration) (pullResult, error) {
	flags := pullFlagSubscription
	if hold > 0 {
		flags |= pullFlagSuspend
	}
	resp, err := c.call(ctx, codePullMessage, map[string]string{
		"consumerGroup":        group,
		"topic":                topic,
		"queueId":              strconv.Itoa(int(queue)),
		"queueOffset":          strconv.FormatInt(from, 10),
		"maxMsgNums":           strconv.Itoa(max),
		"sysFlag":              strconv.Itoa(flags),
		"commitOffset":         "0",
		"suspendTimeoutMillis": strconv.FormatInt(hold.Milliseconds(), 10),
		"subscription":         "*",
		"subVersion":           "0",
		"expressionType":       "TAG",
	}, nil, hold+holdSlack)
	if err != nil {
		return pullResult{}, err
	}
	res := pullResult{next: from}
	parse := func(k string) int64 {
		v, _ := strconv.ParseInt(resp.ExtFields[k], 10, 64)
		return v
	}
	if _, ok := resp.ExtFields["nextBeginOffset"]; ok {
		res.next, res.minOffset, res.maxOffset = parse("nextBeginOffset"), parse("minOffset"), parse("maxOffset")
	}
	switch resp.Code {
	case respSuccess:
		res.msgs = primitive.DecodeMessage(resp.Body)
	case respPullNotFound, respPullRetry:
	case respPullOffsetMoved:
		res.moved = true
	default:
		return pullResult{}, fmt.Errorf("%w: pull %s/%d at %d: code %d: %s", ErrBroker, topic, queue, from, resp.Code, resp.Remark)
	}
	return res, nil
}
