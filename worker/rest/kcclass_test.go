package rest_test

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/worker"
)

// sharedNames is the fake controller with a file source beside the file
// sink, so a short name can name both sides.
type sharedNames struct{ *restFake }

func (s sharedNames) Plugins() []worker.PluginInfo {
	return append(s.restFake.Plugins(), worker.PluginInfo{Class: worker.PluginClass("source", "file"), Type: "source"})
}

// TestConnectorClassInput: how connector.class maps onto source= and
// sink=, and what is refused.
func TestConnectorClassInput(t *testing.T) {
	t.Parallel()
	h := newTestServer(t, sharedNames{newRestFake()}, nil).Handler()
	tests := []struct {
		name, config string
		status       int
		want         string // in the body
	}{
		{"short name of a source only", `"connector.class": "generator", "sink": "file", "sink.path": "/p"`, 201, `"source":"generator"`},
		{"shared name fills the unset side", `"connector.class": "file", "source": "generator", "sink.path": "/p"`, 201, `"sink":"file"`},
		{"shared name with both sides unset", `"connector.class": "file", "sink.path": "/p"`, 400, "names both a source and a sink plugin: write ferry.source.file or ferry.sink.file"},
		{"shared name agreeing with a side", `"connector.class": "file", "source": "generator", "sink": "file", "sink.path": "/p"`, 201, `"connector.class":"ferry.pipeline"`},
		{"class of the other side", `"connector.class": "ferry.source.file", "source": "generator", "sink": "file", "sink.path": "/p"`, 400, "neither the config's source"},
		{"pipeline class", `"connector.class": " ferry.pipeline ", "source": "generator", "sink": "file", "sink.path": "/p"`, 201, `"source":"generator"`},
		{"empty", `"connector.class": "", "source": "generator", "sink": "file", "sink.path": "/p"`, 400, "names no Ferry source or sink plugin"},
		{"class with no name", `"connector.class": "ferry.source.", "sink": "file", "sink.path": "/p"`, 400, "names no Ferry source or sink plugin"},
		{"predicate class", `"connector.class": "ferry.predicate.x", "sink": "file"`, 400, "is a predicate, not a source or sink plugin"},
		{"long hostile value", `"connector.class": "` + strings.Repeat("é", 1000) + `", "sink": "file"`, 400, "names no Ferry source or sink plugin"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "c" + strings.Repeat("x", i)
			rec := do(h, "POST", "/connectors", `{"name": "`+name+`", "config": {`+tt.config+`}}`)
			if rec.Code != tt.status || !strings.Contains(strings.ReplaceAll(rec.Body.String(), `\"`, `"`), tt.want) {
				t.Errorf("%d %s\nwant %d with %q", rec.Code, rec.Body, tt.status, tt.want)
			}
			if rec.Code != 201 && rec.Body.Len() > 600 {
				t.Errorf("a %d-byte error echoes the value whole", rec.Body.Len())
			}
			if rec.Code == 201 {
				cfg := do(h, "GET", "/connectors/"+name+"/config", "").Body.String()
				if strings.Count(cfg, "connector.class") != 1 || !strings.Contains(cfg, `"connector.class":"ferry.pipeline"`) {
					t.Errorf("config read back: %s", cfg)
				}
			}
		})
	}
}
