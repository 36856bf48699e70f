package kit

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/ferryhq/ferry/api"
)

// Names and addresses every connector that speaks the Kafka protocol
// (Kafka itself, DTS subscriptions) checks the same way.

// ErrTopicName rejects a topic name Kafka refuses.
var ErrTopicName = errors.New("invalid topic name")

// MaxTopicLen is Kafka's own limit on topic names.
const MaxTopicLen = 249

// MaxBrokers bounds a bootstrap list.
const MaxBrokers = 100

// CheckTopic applies Kafka's rules for topic names; errors wrap
// ErrTopicName.
func CheckTopic(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("%w: empty", ErrTopicName)
	case len(t) > MaxTopicLen:
		return fmt.Errorf("%w: %d characters, at most %d", ErrTopicName, len(t), MaxTopicLen)
	case t == "." || t == "..":
		return fmt.Errorf("%w: %q", ErrTopicName, t)
	}
	if err := CheckNameChars(t); err != nil {
		return fmt.Errorf("%w: %v", ErrTopicName, err)
	}
	return nil
}

// CheckNameChars allows what Kafka allows in topic names (letters,
// digits, '.', '_' and '-'), which group ids and account names of Kafka
// protocol services keep to as well.
func CheckNameChars(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%q has %q; allowed are letters, digits, '.', '_' and '-'", s, c)
		}
	}
	return nil
}

// CheckBrokers checks a comma-separated bootstrap list: 1 to MaxBrokers
// host:port entries with ports 1-65535.
func CheckBrokers(v string) error {
	list := api.NewConfig(map[string]string{"b": v}).List("b")
	if len(list) == 0 {
		return errors.New("needs at least one host:port")
	}
	if len(list) > MaxBrokers {
		return fmt.Errorf("at most %d brokers", MaxBrokers)
	}
	for _, b := range list {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return fmt.Errorf("%q is not host:port", b)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port must be 1-65535", b)
		}
	}
	return nil
}
