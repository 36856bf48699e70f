package pattern

import "fmt"

// Dialect chooses whose rules a pattern follows where Alibaba Cloud
// EventBridge (the open-source engine apache/rocketmq-eventbridge) and AWS
// EventBridge (aws/event-ruler) differ; docs/transforms.md lists each
// difference.
type Dialect uint8

const (
	// Alibaba is the default: exact values compare as text (300 matches
	// "300" but not 300.0), numeric bounds lie within ±1e9 and compare to
	// 1e-7, cidr takes a single address, several operators in one object
	// are ANDed, and a field inside an array of objects matches on any
	// element.
	Alibaba Dialect = iota
	// AWS follows event-ruler: exact numbers compare numerically and never
	// match strings, numeric bounds are any finite double, cidr needs a
	// prefix length, one operator per object, and the fields a pattern
	// names under an array of objects must match in the same element
	// (array consistency).
	AWS
)

// Dialects lists the dialect names, for a config field's Enum.
var Dialects = []string{"alibaba", "aws"}

// ParseDialect reads a dialect name; "" is the default, Alibaba.
func ParseDialect(s string) (Dialect, error) {
	switch s {
	case "", "alibaba":
		return Alibaba, nil
	case "aws":
		return AWS, nil
	}
	return 0, fmt.Errorf("unknown dialect %q; use alibaba or aws", s)
}

func (d Dialect) String() string {
	if d == AWS {
		return "aws"
	}
	return "alibaba"
}
