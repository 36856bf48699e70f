package rocketmq

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// Message ids (the UNIQ_KEY property, what consumers see as a message's
// msgId) follow the layout the RocketMQ clients share (the Java client's
// MessageClientIDSetter, the Go client's primitive.CreateUniqID): 16 bytes
// in hex, 32 characters. The first 10, upper-case, name the generator:
// the host's IPv4 address, the process id (int16) and a generator number
// (int32, the Java client's class loader hash); the last 6, lower-case as
// the Go client writes them, are the milliseconds since the start of the
// month (int32, local time, wrapping as the clients' do) and a counter
// (int16).
//
// The sink makes its own rather than calling primitive.CreateUniqID for
// each message: that takes a global lock and formats through reflection,
// a tenth of the sink's CPU; and the Go client counts time in whole
// seconds, so that past 65,536 messages in one second (the sink sends
// more) its ids repeat. The sink's count milliseconds. Its generator
// number is random and never 0, the Go client's, so its ids and the
// client's (another producer in the process, a message sent alone) never
// meet; the host and process part is the client's own.
var uniqIDPrefix = sync.OnceValue(func() string {
	p := []byte(primitive.CreateUniqID()[:12]) // IPv4 and pid
	gen := [4]byte{}
	for gen == [4]byte{} {
		v := rand.Uint32()
		gen = [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	}
	return string(p) + strings.ToUpper(hex.EncodeToString(gen[:]))
})

var (
	uniqIDCount atomic.Uint32
	uniqIDMonth atomic.Pointer[monthSpan]
)

// monthSpan is a calendar month in Unix milliseconds, local time.
type monthSpan struct{ start, end int64 }

// newUniqID returns a message id (see uniqIDPrefix).
func newUniqID() string {
	return uniqIDAt(time.Now(), uint16(uniqIDCount.Add(1)))
}

func uniqIDAt(now time.Time, count uint16) string {
	ms := now.UnixMilli()
	m := uniqIDMonth.Load()
	if m == nil || ms < m.start || ms >= m.end {
		y, mon, _ := now.Local().Date()
		start := time.Date(y, mon, 1, 0, 0, 0, 0, time.Local)
		m = &monthSpan{start.UnixMilli(), start.AddDate(0, 1, 0).UnixMilli()}
		uniqIDMonth.Store(m)
	}
	since := uint32(ms - m.start)
	var b [32]byte
	copy(b[:20], uniqIDPrefix())
	tail := [6]byte{byte(since >> 24), byte(since >> 16), byte(since >> 8), byte(since), byte(count >> 8), byte(count)}
	hex.Encode(b[20:], tail[:])
	return string(b[:])
}
