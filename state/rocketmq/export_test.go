package rocketmq

import "context"

// OpenWithFirstOffsets is Open, except that the store takes each queue's
// earliest stored offset to be what first returns given the broker's
// answer: how tests make the broker look as if it had deleted records by
// age (the test bed's broker keeps files for days and is shared).
func OpenWithFirstOffsets(ctx context.Context, cfg Config, first func(topic string, queueID int32, stored int64) int64) (*Store, error) {
	return openWith(ctx, cfg, first)
}
