package rmqwire

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
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// Request codes (RequestCode in the Java sources).
const (
	CodePullMessage          = 11
	CodeQueryConsumerOffset  = 14
	CodeUpdateConsumerOffset = 15
	CodeCreateTopic          = 17 // UPDATE_AND_CREATE_TOPIC
	CodeSearchOffsetByTime   = 29
	CodeGetMaxOffset         = 30
	CodeGetMinOffset         = 31
	CodeGetRouteByTopic      = 105
	CodeGetClusterInfo       = 106 // GET_BROKER_CLUSTER_INFO
	CodeGetTopicConfig       = 351 // RocketMQ 5
)

// Response codes (ResponseCode in the Java sources).
const (
	RespSuccess                   = 0
	RespSystemError               = 1
	RespNoPermission              = 16
	RespTopicNotExist             = 17
	RespPullNotFound              = 19
	RespPullRetryImmediately      = 20
	RespPullOffsetMoved           = 21
	RespQueryNotFound             = 22
	RespSubscriptionParseFailed   = 23
	RespSubscriptionNotExist      = 24
	RespSubscriptionNotLatest     = 25
	RespSubscriptionGroupNotExist = 26
)

// Pull request flags (PullSysFlag).
const (
	PullFlagCommitOffset = 1 << 0
	PullFlagSuspend      = 1 << 1 // hold the request at the queue's end (long polling)
	PullFlagSubscription = 1 << 2 // the subscription travels in the request
)

const (
	flagResponse = 1
	// MaxFrame bounds a frame's length: a pull answer holds at most the
	// broker's transfer limit plus one message (4 MiB by default).
	MaxFrame        = 64 << 20
	remotingVersion = 317 // V4_9_x: the broker only needs a plausible client version
	language        = "GO"
)

// Credentials sign every request for a broker or name server with ACL.
type Credentials struct {
	AccessKey, SecretKey, SecurityToken string
}

// IsEmpty reports whether no access key is set.
func (c Credentials) IsEmpty() bool { return c.AccessKey == "" }

// Command is one request or response.
type Command struct {
	Code      int               `json:"code"`
	Language  string            `json:"language"`
	Version   int               `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int               `json:"flag"`
	Remark    string            `json:"remark,omitempty"`
	ExtFields map[string]string `json:"extFields,omitempty"`
	Body      []byte            `json:"-"`
}

// Int returns an int64 ext field, and whether it is there and a number.
func (c *Command) Int(name string) (int64, bool) {
	v, err := strconv.ParseInt(c.ExtFields[name], 10, 64)
	return v, err == nil
}

// Err describes a response that is not a success, with its code and remark.
func (c *Command) Err() string {
	return fmt.Sprintf("code %d: %s", c.Code, c.Remark)
}

var opaqueSeq atomic.Int32

// Conn is one TCP connection to a broker or name server.
type Conn struct {
	c     net.Conn
	r     *bufio.Reader
	creds Credentials
	addr  string
	wbuf  []byte
}

// Dial connects to addr within 3 s (or ctx).
func Dial(ctx context.Context, addr string, creds Credentials) (*Conn, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Conn{c: c, r: bufio.NewReaderSize(c, 64<<10), creds: creds, addr: addr}, nil
}

// Addr is the address the connection was dialled to.
func (c *Conn) Addr() string { return c.addr }

// Close closes the connection; a Receive in progress returns an error.
func (c *Conn) Close() error { return c.c.Close() }

// Send writes a request with a new opaque, which it returns. The write
// must finish by deadline (zero: no deadline).
func (c *Conn) Send(code int, ext map[string]string, body []byte, deadline time.Time) (int32, error) {
	req := Command{Code: code, Language: language, Version: remotingVersion, Opaque: opaqueSeq.Add(1), ExtFields: ext, Body: body}
	if !c.creds.IsEmpty() {
		req.ExtFields = maps.Clone(ext)
		if req.ExtFields == nil {
			req.ExtFields = map[string]string{}
		}
		sign(&req, c.creds)
	}
	header, err := json.Marshal(&req)
	if err != nil {
		return 0, err
	}
	buf := c.wbuf[:0]
	buf = binary.BigEndian.AppendUint32(buf, uint32(4+len(header)+len(body)))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(header))) // top byte 0: JSON
	buf = append(append(buf, header...), body...)
	c.wbuf = buf[:0]
	if err := c.c.SetWriteDeadline(deadline); err != nil {
		return 0, err
	}
	if _, err := c.c.Write(buf); err != nil {
		return 0, err
	}
	return req.Opaque, nil
}

// Receive reads the next response, skipping requests the server sends.
// It blocks until one arrives, the read deadline passes, or the
// connection is closed.
func (c *Conn) Receive() (*Command, error) {
	for {
		cmd, err := readFrame(c.r)
		if err != nil {
			return nil, err
		}
		if cmd.Flag&flagResponse != 0 {
			return cmd, nil
		}
	}
}

// Call sends one request and waits for its response, for at most timeout
// and until ctx ends. A connection that Call gave up on must be closed:
// a late response may still arrive on it.
func (c *Conn) Call(ctx context.Context, code int, ext map[string]string, body []byte, timeout time.Duration) (*Command, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.c.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	opaque, err := c.Send(code, ext, body, deadline)
	if err != nil {
		return nil, c.fail(ctx, err)
	}
	for {
		resp, err := c.Receive()
		if err != nil {
			return nil, c.fail(ctx, err)
		}
		if resp.Opaque == opaque {
			return resp, nil
		}
	}
}

func (c *Conn) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%s: %w", c.addr, err)
}

// sign adds the ACL signature: HMAC-SHA1 over the values of the ext
// fields (AccessKey included) in key order, then the body.
func sign(req *Command, creds Credentials) {
	req.ExtFields["AccessKey"] = creds.AccessKey
	if creds.SecurityToken != "" {
		req.ExtFields["SecurityToken"] = creds.SecurityToken
	}
	mac := hmac.New(sha1.New, []byte(creds.SecretKey))
	for _, k := range slices.Sorted(maps.Keys(req.ExtFields)) {
		_, _ = io.WriteString(mac, req.ExtFields[k])
	}
	mac.Write(req.Body)
	req.ExtFields["Signature"] = base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func readFrame(r io.Reader) (*Command, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, err
	}
	total := binary.BigEndian.Uint32(pre[0:])
	hword := binary.BigEndian.Uint32(pre[4:])
	hlen := hword & 0xffffff
	if total > MaxFrame || hlen+4 > total {
		return nil, fmt.Errorf("%w: length %d, header %d", ErrFrame, total, hlen)
	}
	if typ := hword >> 24; typ != 0 {
		return nil, fmt.Errorf("%w: serialised with type %d, want JSON", ErrFrame, typ)
	}
	rest := make([]byte, total-4)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, err
	}
	var cmd Command
	if err := json.Unmarshal(rest[:hlen], &cmd); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrFrame, err)
	}
	cmd.Body = rest[hlen:]
	return &cmd, nil
}
