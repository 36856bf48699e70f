package rocketmq

import "github.com/ferryhq/ferry/api"

// ReadPositions returns the offset each queue a source owns is read from
// next, by queue name.
func ReadPositions(s api.Source) map[string]int64 {
	out := map[string]int64{}
	for _, q := range s.(*source).queues {
		out[q.name] = q.next
	}
	return out
}
