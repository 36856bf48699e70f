package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ferryhq/ferry/worker/cluster"
)

// faultRequest is the body of POST /debug/faults: each field, when set,
// switches one fault.
type faultRequest struct {
	Gossip string `json:"gossip,omitempty"` // "cut" or "heal"
	Config string `json:"config,omitempty"` // "hold" or "release"
}

// faultState is what /debug/faults answers.
type faultState struct {
	GossipCut  bool `json:"gossip_cut"`
	ConfigHeld bool `json:"config_held"`
}

// serveFaults serves the test-only fault switches of `ferry worker
// --debug-faults ADDR` on their own listener, never on the REST API. The
// switches make this worker a zombie on demand (see cluster.Faults); the
// end-to-end tests use them to make a fenced commit certain rather than a
// matter of timing. Stop closes the listener.
func serveFaults(addr string, f *cluster.Faults, log *slog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-faults: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/faults", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost:
			var req faultRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if err := applyFaults(f, req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			log.Warn("test fault switched", "gossip", req.Gossip, "config", req.Config)
		default:
			http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(faultState{GossipCut: f.IsCut(), ConfigHeld: f.ConfigHeld()})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("debug faults server", "err", err)
		}
	}()
	log.Warn("test fault switches enabled: never use --debug-faults in production", "addr", l.Addr().String())
	return func() {
		_ = srv.Close()
		<-done
	}, nil
}

// applyFaults checks the whole request, then switches.
func applyFaults(f *cluster.Faults, req faultRequest) error {
	switch req.Gossip {
	case "", "cut", "heal":
	default:
		return fmt.Errorf("gossip: %q is neither cut nor heal", req.Gossip)
	}
	switch req.Config {
	case "", "hold", "release":
	default:
		return fmt.Errorf("config: %q is neither hold nor release", req.Config)
	}
	switch req.Gossip {
	case "cut":
		f.Cut()
	case "heal":
		f.Heal()
	}
	switch req.Config {
	case "hold":
		f.HoldConfig()
	case "release":
		f.ReleaseConfig()
	}
	return nil
}
