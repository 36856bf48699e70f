package kit

import (
	"fmt"
	"strconv"
	"strings"
)

// Start is a log source's parsed start setting: where a partition with no
// stored position begins. Kind is the oldest or newest word the source
// uses (Kafka's earliest/latest, RocketMQ's first/last) or "timestamp",
// with Ms the Unix time in milliseconds.
type Start struct {
	Kind string
	Ms   int64
}

// MaxStartMs is 9999-12-31T23:59:59.999Z, the latest timestamp a start
// setting may name.
const MaxStartMs = 253402300799999

// ParseStart parses oldest, newest or timestamp:<unix-ms>.
func ParseStart(v, oldest, newest string) (Start, error) {
	switch v {
	case oldest, newest:
		return Start{Kind: v}, nil
	}
	if rest, ok := strings.CutPrefix(v, "timestamp:"); ok {
		ms, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || ms < 0 || ms > MaxStartMs {
			return Start{}, fmt.Errorf("timestamp:%s: want milliseconds since 1970 in [0, %d]", rest, int64(MaxStartMs))
		}
		return Start{Kind: "timestamp", Ms: ms}, nil
	}
	return Start{}, fmt.Errorf("%q: want %s, %s or timestamp:<unix-ms>", v, oldest, newest)
}
