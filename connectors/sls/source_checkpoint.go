package sls

import (
	"errors"
	"fmt"

	"github.com/ferryhq/ferry/api"
)

// publish writes the positions the engine committed since the last
// publish to the consumer group, as its shards' checkpoints (forced:
// Ferry, not the group's heartbeats, decides who reads a shard). A
// position inside a log group checkpoints that group's cursor, so a
// consumer library resuming from the group reads it again rather than
// skip its rest. Failures are logged and the positions offered again next
// time: the checkpoints are a view for SLS's console and tools, Ferry's
// offset store is what the task resumes from.
func (s *source) publish() {
	pending := s.TakeCommitted()
	var failed []error
	retry := map[string]api.Position{}
	for name, pos := range pending {
		id, ok := s.shardOf(name)
		if !ok {
			continue
		}
		p, err := parsePosition(pos)
		if err != nil {
			continue
		}
		if err := s.checkpoint(id, p.cursor); err != nil {
			failed = append(failed, fmt.Errorf("shard %d: %w", id, err))
			retry[name] = pos
		}
	}
	if failed == nil {
		return
	}
	s.log.Warn("sls source: cannot write committed positions to the consumer group; will retry",
		"group", s.group, "err", errors.Join(failed...))
	s.Retry(retry)
}

// checkpoint writes one shard's checkpoint.
func (s *source) checkpoint(shard int, cursor string) error {
	if s.client == nil {
		return errors.New("not open")
	}
	return s.client.UpdateCheckpoint(s.project, s.logstore, s.group, s.consumer, shard, cursor, true)
}
