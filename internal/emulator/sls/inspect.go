package sls

import "fmt"

// Direct access to the stored data, for tests that seed a logstore or check
// what a writer sent without going through the SDK. Both create the project
// and logstore on first use unless Config.RequireCreate is set.

// Put appends g to a shard as if PutLogs had routed it there, stamped with
// the current receive time.
func (s *Server) Put(project, logstore string, shard int, g LogGroup) error {
	raw := AppendLogGroup(nil, g)
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, aerr := s.lookupLogstore(project, logstore)
	if aerr != nil {
		return fmt.Errorf("sls emulator: put: %w", aerr)
	}
	sh, aerr := ls.writable(shard)
	if aerr != nil {
		return fmt.Errorf("sls emulator: put: %w", aerr)
	}
	sh.appendEntry(raw, s.cfg.Now())
	return nil
}

// LogGroups returns the log groups stored in a shard, oldest first.
func (s *Server) LogGroups(project, logstore string, shardID int) ([]LogGroup, error) {
	s.mu.Lock()
	var raws [][]byte
	ls, aerr := s.lookupLogstore(project, logstore)
	if aerr == nil {
		var sh *shard
		if sh, aerr = ls.shard(shardID); aerr == nil {
			for _, e := range sh.entries {
				raws = append(raws, e.raw)
			}
		}
	}
	s.mu.Unlock()
	if aerr != nil {
		return nil, fmt.Errorf("sls emulator: log groups: %w", aerr)
	}
	out := make([]LogGroup, 0, len(raws))
	for _, raw := range raws {
		g, err := DecodeLogGroup(raw)
		if err != nil {
			// Stored groups were decoded once on the way in.
			return nil, fmt.Errorf("sls emulator: log groups: %w", err)
		}
		out = append(out, g)
	}
	return out, nil
}
