package mns

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if the emulator leaves goroutines behind. The
// SDK's fasthttp clients (and Redirect's) keep connection-cleaner goroutines
// for the life of the process; those are not the emulator's.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
	)
}
