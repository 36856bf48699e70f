package dts

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/kit"
)

// Bounds of the settings.
const (
	maxSidLen    = 128
	maxUserLen   = 128
	maxPassLen   = 1024
	maxPatterns  = 256
	maxPattern   = 1024
	maxTimestamp = 253402300799 // 9999-12-31T23:59:59Z
)

var spec = api.Spec{
	{Name: "brokers", Type: api.TypeList, Required: true, Check: kit.CheckBrokers,
		Description: "The subscription's Kafka endpoint (DTS console: network address), host:port, comma-separated."},
	{Name: "topic", Type: api.TypeString, Required: true, Check: kit.CheckTopic,
		Description: "The subscription topic (one partition)."},
	{Name: "sid", Type: api.TypeString, Required: true, Check: checkName(maxSidLen),
		Description: "The consumer group ID (DTS console: consumer groups). One client per group: the source refuses to start while another client is a member."},
	{Name: "user", Type: api.TypeString, Required: true, Check: checkName(maxUserLen),
		Description: "The consumer group's account; the source logs in (SASL PLAIN) as <user>-<sid>."},
	{Name: "password", Type: api.TypeString, Required: true, Secret: true, Check: checkPassword,
		Description: "The consumer group account's password; use ${env:…}, ${file:…} or ${dir:…}."},
	{Name: "start.timestamp", Type: api.TypeInt, Check: api.Range(0, maxTimestamp),
		Description: "Where a new connector starts: the first record at or after this time, Unix seconds. Used only while Ferry holds no position for it; a restart always resumes from the stored position. Default: the oldest record the subscription holds."},
	{Name: "table.include.list", Type: api.TypeList, Check: checkPatterns,
		Description: "Regular expressions (full match) of <database>.<table> names to emit; all tables when absent. Records of other tables only move the position."},
	{Name: "table.exclude.list", Type: api.TypeList, Check: checkPatterns,
		Description: "Regular expressions (full match) of <database>.<table> names not to emit (or table.include.list, not both)."},
	{Name: "provide.transaction.metadata", Type: api.TypeBool, Default: "false",
		Description: "Emit BEGIN and END transaction events around each transaction that touches an emitted table, as mysql-cdc does."},
	{Name: "batch.size", Type: api.TypeInt, Default: "4096", Check: api.Range(1, 1<<20),
		Description: "Most records one Read returns."},
	{Name: "fetch.max.bytes", Type: api.TypeInt, Default: "16777216", Check: api.Range(1024, 256<<20),
		Description: "Most bytes one fetch request returns (a first record batch larger than this is still returned)."},
	{Name: "fetch.max.wait", Type: api.TypeDuration, Default: "500ms", Check: api.DurationRange(time.Millisecond, 30*time.Second),
		Description: "Longest the endpoint holds a fetch while no record is there."},
	{Name: "dial.timeout", Type: api.TypeDuration, Default: "10s", Check: api.DurationRange(100*time.Millisecond, 5*time.Minute),
		Description: "Time to connect to the endpoint."},
}

func checkName(n int) func(string) error {
	return func(v string) error {
		if len(v) > n {
			return fmt.Errorf("at most %d bytes", n)
		}
		return kit.CheckNameChars(v)
	}
}

func checkPassword(v string) error {
	if len(v) > maxPassLen {
		return fmt.Errorf("at most %d bytes", maxPassLen)
	}
	if strings.ContainsRune(v, 0) {
		return errors.New("must not contain NUL (SASL PLAIN separates fields with it)")
	}
	return nil
}

func checkPatterns(v string) error {
	_, err := compilePatterns(api.NewConfig(map[string]string{"p": v}).List("p"))
	return err
}

// compilePatterns anchors every pattern: it must match a whole
// <database>.<table> name, as in mysql-cdc.
func compilePatterns(list []string) ([]*regexp.Regexp, error) {
	if len(list) > maxPatterns {
		return nil, fmt.Errorf("at most %d patterns", maxPatterns)
	}
	out := make([]*regexp.Regexp, 0, len(list))
	for _, p := range list {
		if len(p) > maxPattern {
			return nil, fmt.Errorf("pattern of %d bytes; at most %d", len(p), maxPattern)
		}
		re, err := regexp.Compile(`^(?:` + p + `)$`)
		if err != nil {
			return nil, fmt.Errorf("bad regular expression %q: %v", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// validate checks what involves several fields.
func validate(c api.Config) error {
	if len(c.List("table.include.list")) > 0 && len(c.List("table.exclude.list")) > 0 {
		return &api.ValidationError{Fields: []api.FieldError{{Field: "table.exclude.list",
			Message: "set table.include.list or table.exclude.list, not both"}}}
	}
	return nil
}

// settings is a parsed configuration.
type settings struct {
	brokers  []string
	topic    string
	sid      string
	user     string
	password string
	startTS  int64 // -1: none
	include  []*regexp.Regexp
	exclude  []*regexp.Regexp
	txMeta   bool
	batch    int
	fetchMax int32
	maxWait  time.Duration
	dial     time.Duration
}

func parseSettings(c api.Config) (*settings, error) {
	s := &settings{
		brokers:  c.List("brokers"),
		topic:    c.String("topic"),
		sid:      c.String("sid"),
		user:     c.String("user"),
		password: c.String("password"),
		startTS:  -1,
		txMeta:   c.Bool("provide.transaction.metadata"),
		batch:    c.Int("batch.size"),
		fetchMax: int32(c.Int("fetch.max.bytes")),
		maxWait:  c.Duration("fetch.max.wait"),
		dial:     c.Duration("dial.timeout"),
	}
	if c.Has("start.timestamp") {
		s.startTS = int64(c.Int("start.timestamp"))
	}
	var err error
	if s.include, err = compilePatterns(c.List("table.include.list")); err != nil {
		return nil, err
	}
	if s.exclude, err = compilePatterns(c.List("table.exclude.list")); err != nil {
		return nil, err
	}
	return s, nil
}

// tableWanted reports whether changes of name ("db.table") are emitted.
func (s *settings) tableWanted(name string) bool {
	if len(s.include) > 0 && !matchAny(s.include, name) {
		return false
	}
	return !matchAny(s.exclude, name)
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
