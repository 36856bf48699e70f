package rmqwire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// javaIntKeys matches the unquoted integer map keys the name server writes
// (fastjson's {0:"127.0.0.1:10911"}), which Go's JSON refuses.
var javaIntKeys = regexp.MustCompile(`([{,])(-?\d+):`)

// unmarshalJava decodes a name server's JSON body.
func unmarshalJava(b []byte, v any) error {
	return json.Unmarshal(javaIntKeys.ReplaceAll(b, []byte(`$1"$2":`)), v)
}

// BrokerData is a broker group: its name and its addresses by broker id
// (0 is the master).
type BrokerData struct {
	Cluster     string            `json:"cluster"`
	BrokerName  string            `json:"brokerName"`
	BrokerAddrs map[string]string `json:"brokerAddrs"`
}

// Master is the master's address, "" when the group has none.
func (b BrokerData) Master() string { return b.BrokerAddrs["0"] }

// QueueData is a topic's queues on one broker group.
type QueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
	Perm           int    `json:"perm"`
}

// Readable reports whether the queues may be read (PermName.PERM_READ).
func (q QueueData) Readable() bool { return q.Perm&4 != 0 }

// Route is a topic's route: its queues per broker group and the groups'
// addresses.
type Route struct {
	QueueDatas  []QueueData  `json:"queueDatas"`
	BrokerDatas []BrokerData `json:"brokerDatas"`
}

// TopicRoute asks each name server in turn for topic's route until one
// answers. A topic the name server does not know is ErrTopicNotExist.
func TopicRoute(ctx context.Context, nameservers []string, creds Credentials, topic string, timeout time.Duration) (Route, error) {
	resp, addr, err := askNameServers(ctx, nameservers, creds, CodeGetRouteByTopic, map[string]string{"topic": topic}, timeout)
	if err != nil {
		return Route{}, err
	}
	switch resp.Code {
	case RespSuccess:
	case RespTopicNotExist:
		return Route{}, fmt.Errorf("%w: %s (name server %s)", ErrTopicNotExist, topic, addr)
	default:
		return Route{}, fmt.Errorf("route of %s from %s: %w", topic, addr, refused(resp))
	}
	var r Route
	if err := unmarshalJava(resp.Body, &r); err != nil {
		return Route{}, fmt.Errorf("route of %s from %s: %w: %v", topic, addr, ErrFrame, err)
	}
	return r, nil
}

// Masters asks each name server in turn for the broker clusters it knows
// until one answers, and returns the master of every broker group by
// broker name: only the groups of cluster unless it is "".
func Masters(ctx context.Context, nameservers []string, creds Credentials, cluster string, timeout time.Duration) (map[string]string, error) {
	resp, addr, err := askNameServers(ctx, nameservers, creds, CodeGetClusterInfo, nil, timeout)
	if err != nil {
		return nil, err
	}
	if resp.Code != RespSuccess {
		return nil, fmt.Errorf("cluster info from %s: %w", addr, refused(resp))
	}
	var info struct {
		BrokerAddrTable map[string]BrokerData `json:"brokerAddrTable"`
	}
	if err := unmarshalJava(resp.Body, &info); err != nil {
		return nil, fmt.Errorf("cluster info from %s: %w: %v", addr, ErrFrame, err)
	}
	out := map[string]string{}
	for name, b := range info.BrokerAddrTable {
		if m := b.Master(); m != "" && (cluster == "" || b.Cluster == cluster) {
			out[name] = m
		}
	}
	return out, nil
}

// askNameServers sends one request to each name server in turn until one
// answers, and returns the answer (whatever its code) and who gave it.
func askNameServers(ctx context.Context, nameservers []string, creds Credentials, code int, ext map[string]string, timeout time.Duration) (*Command, string, error) {
	var errs []error
	for _, addr := range nameservers {
		resp, err := OneCall(ctx, addr, creds, code, ext, timeout)
		if err != nil {
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			errs = append(errs, err)
			continue
		}
		return resp, addr, nil
	}
	return nil, "", fmt.Errorf("no name server answered: %w", errors.Join(errs...))
}

// OneCall is one request on a fresh connection to addr.
func OneCall(ctx context.Context, addr string, creds Credentials, code int, ext map[string]string, timeout time.Duration) (*Command, error) {
	c, err := Dial(ctx, addr, creds)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Call(ctx, code, ext, nil, timeout)
}
