package sls

import (
	"net/http"
	"sort"
	"strconv"
)

// Project and logstore management: the calls the SDK makes before it reads
// or writes (CreateProject, GetProject, CreateLogStore, GetLogStore, …).

type projectJSON struct {
	Name           string `json:"projectName"`
	Description    string `json:"description"`
	Status         string `json:"status"`
	Owner          string `json:"owner"`
	Region         string `json:"region"`
	CreateTime     string `json:"createTime"`
	LastModifyTime string `json:"lastModifyTime"`
}

func (s *Server) createProject(c *call) *apiError {
	var body struct {
		Name        string `json:"projectName"`
		Description string `json:"description"`
	}
	if aerr := c.decodeJSON(&body); aerr != nil {
		return aerr
	}
	name := c.project
	if name == "" {
		name = body.Name
	}
	if name == "" || (body.Name != "" && body.Name != name) {
		return errParameterInvalid("project name in Host (%q) and body (%q) disagree", c.project, body.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[name]; ok {
		return newAPIError(http.StatusBadRequest, "ProjectAlreadyExist", "Project %s already exist", name)
	}
	s.addProject(name, body.Description)
	return writeJSON(c.w, nil)
}

func (s *Server) getProject(c *call) *apiError {
	s.mu.Lock()
	p, aerr := s.lookupProject(c.project, false)
	var out projectJSON
	if aerr == nil {
		out = projectJSON{
			Name: p.name, Description: p.description, Status: "Normal", Region: "emulator",
			CreateTime:     strconv.FormatInt(p.created.Unix(), 10),
			LastModifyTime: strconv.FormatInt(p.modified.Unix(), 10),
		}
	}
	s.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return writeJSON(c.w, out)
}

func (s *Server) updateProject(c *call) *apiError {
	var body struct {
		Description string `json:"description"`
	}
	if aerr := c.decodeJSON(&body); aerr != nil {
		return aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, aerr := s.lookupProject(c.project, false)
	if aerr != nil {
		return aerr
	}
	p.description, p.modified = body.Description, s.cfg.Now()
	return writeJSON(c.w, nil)
}

func (s *Server) deleteProject(c *call) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, aerr := s.lookupProject(c.project, false); aerr != nil {
		return aerr
	}
	delete(s.projects, c.project)
	return writeJSON(c.w, nil)
}

// logstoreJSON is the logstore resource as GetLogStore decodes it.
type logstoreJSON struct {
	Name           string `json:"logstoreName"`
	TTL            int    `json:"ttl"`
	ShardCount     int    `json:"shardCount"`
	WebTracking    bool   `json:"enable_tracking"`
	AutoSplit      bool   `json:"autoSplit"`
	MaxSplitShard  int    `json:"maxSplitShard"`
	AppendMeta     bool   `json:"appendMeta"`
	TelemetryType  string `json:"telemetryType"`
	Mode           string `json:"mode,omitempty"`
	CreateTime     int64  `json:"createTime"`
	LastModifyTime int64  `json:"lastModifyTime"`
}

func (s *Server) listLogstores(c *call) *apiError {
	q := c.r.URL.Query()
	offset, size := 0, 500
	var aerr *apiError
	if v := q.Get("offset"); v != "" {
		if offset, aerr = intParam("offset", v); aerr != nil {
			return aerr
		}
	}
	if v := q.Get("size"); v != "" {
		if size, aerr = intParam("size", v); aerr != nil {
			return aerr
		}
	}
	s.mu.Lock()
	p, aerr := s.lookupProject(c.project, false)
	var names []string
	if aerr == nil {
		for n := range p.logstores {
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	sort.Strings(names)
	total := len(names)
	names = names[min(max(offset, 0), total):]
	if size >= 0 && size < len(names) {
		names = names[:size]
	}
	if names == nil {
		names = []string{}
	}
	return writeJSON(c.w, map[string]any{"count": len(names), "total": total, "logstores": names})
}

func (s *Server) createLogstore(c *call) *apiError {
	var body logstoreJSON
	if aerr := c.decodeJSON(&body); aerr != nil {
		return aerr
	}
	if body.Name == "" {
		return errParameterInvalid("logstoreName is required")
	}
	if body.ShardCount == 0 {
		body.ShardCount = s.cfg.ShardCount
	}
	if body.ShardCount < 1 || body.ShardCount > maxShardCount {
		return errParameterInvalid("shardCount %d is outside 1..%d", body.ShardCount, maxShardCount)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, aerr := s.lookupProject(c.project, true)
	if aerr != nil {
		return aerr
	}
	if _, ok := p.logstores[body.Name]; ok {
		return newAPIError(http.StatusBadRequest, "LogStoreAlreadyExist", "logstore %s already exists", body.Name)
	}
	ls := s.addLogstore(p, body.Name, body.TTL, body.ShardCount)
	ls.autoSplit, ls.maxSplitShard = body.AutoSplit, body.MaxSplitShard
	return writeJSON(c.w, nil)
}

func (s *Server) getLogstore(c *call) *apiError {
	s.mu.Lock()
	ls, aerr := s.existingLogstore(c)
	var out logstoreJSON
	if aerr == nil {
		out = logstoreJSON{
			Name: ls.name, TTL: ls.ttl, ShardCount: len(ls.shards), AutoSplit: ls.autoSplit,
			MaxSplitShard: ls.maxSplitShard, TelemetryType: "None", Mode: "standard",
			CreateTime: ls.created.Unix(), LastModifyTime: ls.modified.Unix(),
		}
	}
	s.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	return writeJSON(c.w, out)
}

// updateLogstore accepts TTL and split settings; the shard count of an
// existing logstore does not change (SLS changes it only by split/merge).
func (s *Server) updateLogstore(c *call) *apiError {
	var body logstoreJSON
	if aerr := c.decodeJSON(&body); aerr != nil {
		return aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, aerr := s.existingLogstore(c)
	if aerr != nil {
		return aerr
	}
	ls.ttl, ls.autoSplit, ls.maxSplitShard, ls.modified = body.TTL, body.AutoSplit, body.MaxSplitShard, s.cfg.Now()
	return writeJSON(c.w, nil)
}

func (s *Server) deleteLogstore(c *call) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, aerr := s.existingLogstore(c)
	if aerr != nil {
		return aerr
	}
	p := s.projects[c.project]
	delete(p.logstores, ls.name)
	return writeJSON(c.w, nil)
}

// existingLogstore finds the logstore a management call names without
// creating it: reading or changing a logstore's settings should not invent it.
// The caller holds s.mu.
func (s *Server) existingLogstore(c *call) (*logstore, *apiError) {
	p, aerr := s.lookupProject(c.project, false)
	if aerr != nil {
		return nil, aerr
	}
	name := c.r.PathValue("logstore")
	ls, ok := p.logstores[name]
	if !ok {
		return nil, errLogStoreNotExist(name)
	}
	return ls, nil
}
