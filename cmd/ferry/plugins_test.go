package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPluginBuildTags builds the binary with every ferry_no_<connector>
// tag and checks that what it links and lists are the core connectors
// alone: each optional connector's package, and the client libraries only
// it needs, stay out.
func TestPluginBuildTags(t *testing.T) {
	tags := slimTags(t)
	out, err := exec.Command("go", "list", "-tags", tags, "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -tags %q: %v", tags, err)
	}
	deps := strings.Fields(string(out))
	for _, gone := range []string{
		"github.com/ferryhq/ferry/connectors/kafka", "github.com/ferryhq/ferry/connectors/rocketmq",
		"github.com/ferryhq/ferry/connectors/mysql", "github.com/ferryhq/ferry/connectors/rds",
		"github.com/ferryhq/ferry/connectors/sls", "github.com/ferryhq/ferry/connectors/mns",
		"github.com/ferryhq/ferry/connectors/dts",
		"github.com/segmentio/kafka-go", "github.com/go-mysql-org/go-mysql/replication",
		"github.com/aliyun/aliyun-log-go-sdk", "github.com/ugorji/go/codec",
	} {
		if slices.Contains(deps, gone) {
			t.Errorf("built with -tags %q, the binary still links %s", tags, gone)
		}
	}

	bin := ferryBinaryTagged(t, tags)
	w := startStandalone(t, bin)
	code, body := w.do("GET", "/connector-plugins", nil)
	var plugins []struct{ Class string }
	if err := json.Unmarshal(body, &plugins); code != 200 || err != nil {
		t.Fatalf("GET /connector-plugins: %d %s (%v)", code, body, err)
	}
	var got []string
	for _, p := range plugins {
		got = append(got, p.Class)
	}
	want := []string{"ferry.sink.drop", "ferry.sink.file", "ferry.sink.http", "ferry.sink.log", "ferry.source.file", "ferry.source.generator", "ferry.source.http"}
	if !slices.Equal(got, want) {
		t.Errorf("connector plugins = %v, want %v", got, want)
	}
}

// slimTags are the build tags that leave every optional connector out of
// the binary (one plugins_<name>.go each), and gin's MessagePack codec.
func slimTags(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob("plugins_*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no plugins_*.go: %v", err)
	}
	tags := []string{"nomsgpack"}
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			tags = append(tags, "ferry_no_"+strings.TrimSuffix(strings.TrimPrefix(f, "plugins_"), ".go"))
		}
	}
	return strings.Join(tags, " ")
}
