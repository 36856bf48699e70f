package sls

import (
	"net/http"
	"strconv"
	"strings"
)

// Data plane: PutLogs (optionally routed by hash key), ListShards, GetCursor,
// GetCursorTime and PullLogs.

// maxPullCount is SLS's cap on log groups per PullLogs.
const maxPullCount = 1000

func (s *Server) putLogs(c *call) *apiError {
	rawSize, err := strconv.Atoi(c.r.Header.Get("x-log-bodyrawsize"))
	if err != nil || rawSize < 0 {
		return errParameterInvalid("x-log-bodyrawsize %q is not a size", c.r.Header.Get("x-log-bodyrawsize"))
	}
	if rawSize > s.cfg.MaxRawSize {
		return newAPIError(http.StatusRequestEntityTooLarge, "PostBodyTooLarge", "raw body of %d bytes exceeds %d", rawSize, s.cfg.MaxRawSize)
	}
	kind := strings.ToLower(c.r.Header.Get("x-log-compresstype"))
	raw, err := decompress(kind, c.body, rawSize)
	if err != nil {
		return errPostBodyInvalid("%v", err)
	}
	// Decoded only to refuse what SLS would refuse; the bytes are stored as
	// they came, so a pull returns them unchanged.
	if _, err := DecodeLogGroup(raw); err != nil {
		return errPostBodyInvalid("%v", err)
	}
	routed := strings.HasSuffix(c.r.URL.Path, "/shards/route")
	var key string
	if routed {
		var ok bool
		if key, ok = normalizeHashKey(c.r.URL.Query().Get("key")); !ok {
			return errParameterInvalid("hash key %q is not 1 to 32 hex digits", c.r.URL.Query().Get("key"))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, aerr := s.lookupLogstore(c.project, c.r.PathValue("logstore"))
	if aerr != nil {
		return aerr
	}
	var sh *shard
	if routed {
		sh = ls.shardFor(key)
	} else {
		sh = ls.nextWritable()
	}
	sh.appendEntry(raw, s.cfg.Now())
	return writeJSON(c.w, nil)
}

type shardJSON struct {
	ShardID           int    `json:"shardID"`
	Status            string `json:"status"`
	InclusiveBeginKey string `json:"inclusiveBeginKey"`
	ExclusiveEndKey   string `json:"exclusiveEndKey"`
	CreateTime        int64  `json:"createTime"`
}

func (s *Server) listShards(c *call) *apiError {
	s.mu.Lock()
	ls, aerr := s.lookupLogstore(c.project, c.r.PathValue("logstore"))
	var out []shardJSON
	if aerr == nil {
		for _, sh := range ls.shards {
			out = append(out, sh.json())
		}
	}
	s.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return writeJSON(c.w, out)
}

// readShard serves the three GETs on one shard, told apart by ?type=.
func (s *Server) readShard(c *call) *apiError {
	id, aerr := intParam("shard", c.r.PathValue("shard"))
	if aerr != nil {
		return aerr
	}
	q := c.r.URL.Query()
	switch q.Get("type") {
	case "cursor":
		return s.getCursor(c, id, q.Get("from"))
	case "cursor_time":
		return s.getCursorTime(c, id, q.Get("cursor"))
	case "logs":
		return s.pullLogs(c, id)
	default:
		return errParameterInvalid("type %q is not one of cursor, cursor_time, logs", q.Get("type"))
	}
}

// withShard runs fn on shard id of the logstore the call names, under s.mu.
func (s *Server) withShard(c *call, id int, fn func(*shard) *apiError) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, aerr := s.lookupLogstore(c.project, c.r.PathValue("logstore"))
	if aerr != nil {
		return aerr
	}
	sh, aerr := ls.shard(id)
	if aerr != nil {
		return aerr
	}
	return fn(sh)
}

// getCursor resolves from = begin | end | unix seconds (receive time).
func (s *Server) getCursor(c *call, id int, from string) *apiError {
	var pos int
	aerr := s.withShard(c, id, func(sh *shard) *apiError {
		switch from {
		case "begin":
			pos = 0
		case "end":
			pos = len(sh.entries)
		default:
			t, err := strconv.ParseInt(from, 10, 64)
			if err != nil || t < 0 {
				return errParameterInvalid("from %q is not begin, end or a unix time", from)
			}
			pos = sh.cursorAt(t)
		}
		return nil
	})
	if aerr != nil {
		return aerr
	}
	return writeJSON(c.w, map[string]string{"cursor": encodeCursor(pos)})
}

// getCursorTime returns the receive time of the log group at a cursor; the
// end cursor of a non-empty shard reports its last group's time, as the
// position just past it.
func (s *Server) getCursorTime(c *call, id int, cursor string) *apiError {
	var t int64
	aerr := s.withShard(c, id, func(sh *shard) *apiError {
		pos, ok := decodeCursor(cursor)
		if !ok || pos > len(sh.entries) {
			return errInvalidCursor(cursor)
		}
		switch {
		case pos < len(sh.entries):
			t = sh.entries[pos].received
		case pos > 0:
			t = sh.entries[pos-1].received
		default:
			t = s.cfg.Now().Unix()
		}
		return nil
	})
	if aerr != nil {
		return aerr
	}
	return writeJSON(c.w, map[string]int64{"cursor_time": t})
}

func (s *Server) pullLogs(c *call, id int) *apiError {
	q := c.r.URL.Query()
	cursor := q.Get("cursor")
	count, aerr := intParam("count", q.Get("count"))
	if aerr != nil {
		return aerr
	}
	if count <= 0 {
		return errParameterInvalid("count %d must be positive", count)
	}
	count = min(count, maxPullCount)
	endCursor := q.Get("end_cursor")
	var spl *splQuery
	if query := q.Get("query"); query != "" {
		var err error
		if spl, err = parseSPL(query); err != nil {
			// Better a clear refusal than silently unfiltered data.
			return errParameterInvalid("query: %v", err)
		}
	}

	var (
		begin, end int
		groups     [][]byte
	)
	aerr = s.withShard(c, id, func(sh *shard) *apiError {
		var ok bool
		if begin, ok = decodeCursor(cursor); !ok || begin > len(sh.entries) {
			return errInvalidCursor(cursor)
		}
		end = len(sh.entries)
		if endCursor != "" {
			stop, ok := decodeCursor(endCursor)
			if !ok || stop > len(sh.entries) {
				return errInvalidCursor(endCursor)
			}
			end = max(min(end, stop), begin)
		}
		end = min(end, begin+count)
		// Stored bytes are never modified, so they can be encoded after
		// the lock is released.
		for _, e := range sh.entries[begin:end] {
			groups = append(groups, e.raw)
		}
		return nil
	})
	if aerr != nil {
		return aerr
	}

	rawGroups, rawSize := len(groups), 0
	var rawLines, lines int
	if spl != nil {
		filtered := groups[:0:0]
		for _, b := range groups {
			rawSize += len(b)
			g, err := DecodeLogGroup(b)
			if err != nil {
				return newAPIError(http.StatusInternalServerError, "InternalServerError", "stored log group: %v", err)
			}
			rawLines += len(g.Logs)
			if g = spl.apply(g); len(g.Logs) > 0 {
				lines += len(g.Logs)
				filtered = append(filtered, AppendLogGroup(nil, g))
			}
		}
		groups = filtered
	}
	raw := appendLogGroupList(nil, groups)
	kind := compressLZ4
	switch strings.ToLower(strings.TrimSpace(c.r.Header.Get("Accept-Encoding"))) {
	case compressZstd:
		kind = compressZstd
	case compressDeflate:
		kind = compressDeflate
	}
	body, err := compress(kind, raw)
	if err != nil {
		return newAPIError(http.StatusInternalServerError, "InternalServerError", "%v", err)
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("x-log-cursor", encodeCursor(end))
	h.Set("x-log-count", strconv.Itoa(len(groups)))
	h.Set("x-log-bodyrawsize", strconv.Itoa(len(raw)))
	h.Set("x-log-compresstype", kind)
	if spl != nil {
		// What the query read and what it returned, as SLS reports them.
		h.Set("x-log-rawdatasize", strconv.Itoa(rawSize))
		h.Set("x-log-rawdatacount", strconv.Itoa(rawGroups))
		h.Set("x-log-rawdatalines", strconv.Itoa(rawLines))
		h.Set("x-log-resultlines", strconv.Itoa(lines))
		h.Set("x-log-failedlines", "0")
	}
	if len(groups) > 0 {
		// Decimal, not base64: the SDK numbers the returned groups back
		// from it to give each its own cursor.
		h.Set("x-log-read-last-cursor", strconv.Itoa(end-1))
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body)
	return nil
}
