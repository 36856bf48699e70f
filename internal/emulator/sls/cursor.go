package sls

import (
	"encoding/base64"
	"strconv"
)

// Cursors are what SLS hands out: standard base64 of the decimal position of
// a log group in its shard. Clients are told they are opaque, but the SDK
// leans on the format (GetPrevCursorTime subtracts one, PullLogs numbers the
// groups from x-log-read-last-cursor), so the emulator keeps it.
func encodeCursor(seq int) string {
	return base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(seq)))
}

// decodeCursor returns the position a cursor names, or false if it is not a
// cursor at all. Range checks against a shard are the caller's.
func decodeCursor(c string) (int, bool) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
