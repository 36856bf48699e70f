package sls

import (
	"fmt"
	"time"
)

// maxRawSizeLimit caps Config.MaxRawSize: request bodies are held in memory.
const maxRawSizeLimit = 64 << 20

// maxShardCount caps the shards of one logstore, as a sanity bound.
const maxShardCount = 256

// Config configures a Server. The zero value of every field but the access
// key means its default; New does not modify the caller's Config.
type Config struct {
	// Addr is the TCP address to listen on; default "127.0.0.1:0" (a free
	// port, see Server.Endpoint).
	Addr string
	// AccessKeyID and AccessKeySecret are the one credential every request
	// must be signed with. Both are required.
	AccessKeyID     string
	AccessKeySecret string
	// ShardCount is the number of shards of a logstore created on first use
	// (and of one created with shardCount 0); default 2.
	ShardCount int
	// RequireCreate turns off creation on first use: an unknown project or
	// logstore then gets ProjectNotExist or LogStoreNotExist, as in SLS.
	RequireCreate bool
	// MaxRawSize bounds the inflated size of one PutLogs body; default 10 MiB
	// (SLS's own limit), at most 64 MiB.
	MaxRawSize int
	// MaxClockSkew is how far a request's Date may be from Now; default 15
	// minutes (as SLS), negative to accept any Date.
	MaxClockSkew time.Duration
	// Now is the clock for receive times and the Date check; default
	// time.Now. Tests move it to exercise GetCursor from a time.
	Now func() time.Time
}

// Validate reports contradictions and out-of-range values.
func (c Config) Validate() error {
	switch {
	case c.AccessKeyID == "" || c.AccessKeySecret == "":
		return fmt.Errorf("%w: AccessKeyID and AccessKeySecret are required", ErrConfig)
	case c.ShardCount < 0 || c.ShardCount > maxShardCount:
		return fmt.Errorf("%w: ShardCount %d is outside 0..%d", ErrConfig, c.ShardCount, maxShardCount)
	case c.MaxRawSize < 0 || c.MaxRawSize > maxRawSizeLimit:
		return fmt.Errorf("%w: MaxRawSize %d is outside 0..%d", ErrConfig, c.MaxRawSize, maxRawSizeLimit)
	}
	return nil
}

// withDefaults returns a copy with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.ShardCount == 0 {
		c.ShardCount = 2
	}
	if c.MaxRawSize == 0 {
		c.MaxRawSize = 10 << 20
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = 15 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
