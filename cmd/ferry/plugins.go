package main

import (
	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/connectors/drop"
	"github.com/ferryhq/ferry/connectors/file"
	"github.com/ferryhq/ferry/connectors/generator"
	"github.com/ferryhq/ferry/connectors/http"
	"github.com/ferryhq/ferry/connectors/log"
)

// The connectors of this binary. Those below need nothing beyond the
// standard library and are always in; each other connector is added by
// its own plugins_<name>.go, which the build tag ferry_no_<name> leaves
// out, with the client libraries only it links (docs/building.md: a
// smaller binary that starts with less resident memory).
var (
	sources = []api.SourcePlugin{generator.Source, file.Source, http.Source}
	sinks   = []api.SinkPlugin{file.Sink, log.Sink, drop.Sink, http.Sink}
)
