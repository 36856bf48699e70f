package worker

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

// engineUnderTest is an engine over a memory store with one source and one
// sink plugin that are never run: these tests cover the engine's contract
// with the herders, its store writes and generations.
func engineUnderTest(t *testing.T) (*engine, state.Store) {
	t.Helper()
	st := state.NewMemory()
	cfg := Config{WorkerID: "w", Store: st, Logger: slog.New(slog.DiscardHandler), Registry: Registry{
		Sources: []api.SourcePlugin{{Name: "s", New: func(api.TaskConfig) (api.Source, error) { return nil, errors.New("not run") }}},
		Sinks:   []api.SinkPlugin{{Name: "k", New: func(api.TaskConfig) (api.Sink, error) { return nil, errors.New("not run") }}},
	}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e, err := newEngine(cfg.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	return e, st
}

func engineConfig(kv ...string) map[string]string {
	m := map[string]string{"source": "s", "sink": "k"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestEngineStoreWrites walks the store writes both herders make through
// the engine, in order, and what each reports: created and changed flags,
// the error kinds the REST API maps to statuses, and what is stored.
func TestEngineStoreWrites(t *testing.T) {
	t.Parallel()
	e, st := engineUnderTest(t)
	ctx := context.Background()

	var ve *api.ValidationError
	if _, err := e.createConnector(ctx, "a", engineConfig("source", "nope"), ""); !errors.As(err, &ve) {
		t.Fatalf("create with an unknown source: %v, want a validation error", err)
	}
	if _, err := st.Connector(ctx, "a"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("an invalid create stored something: %v", err)
	}
	if _, err := e.createConnector(ctx, "a", engineConfig(), "SLEEPING"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("create with a bad target: %v, want ErrBadRequest", err)
	}
	if _, err := e.createConnector(ctx, "a", engineConfig("name", "b"), ""); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("create whose config names another connector: %v, want ErrBadRequest", err)
	}
	def, err := e.createConnector(ctx, "a", engineConfig(), "")
	if err != nil || def.Target != state.TargetRunning || def.Config["name"] != "a" {
		t.Fatalf("create: %+v, %v; want RUNNING with its name key", def, err)
	}
	if _, err := e.createConnector(ctx, "a", engineConfig(), ""); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}

	if def, created, changed, err := e.putConnectorConfig(ctx, "a", engineConfig()); err != nil || created || changed || def.Name != "a" {
		t.Fatalf("put of the same config: created=%v changed=%v %v; want neither", created, changed, err)
	}
	if def, created, changed, err := e.putConnectorConfig(ctx, "a", engineConfig("tasks.max", "2")); err != nil || created || !changed || def.Config["tasks.max"] != "2" {
		t.Fatalf("put of a new config: created=%v changed=%v %+v %v; want changed", created, changed, def, err)
	}
	if def, created, changed, err := e.putConnectorConfig(ctx, "b", engineConfig()); err != nil || !created || !changed || def.Target != state.TargetRunning {
		t.Fatalf("put of a new connector: created=%v changed=%v %+v %v; want created RUNNING", created, changed, def, err)
	}

	two := "3"
	if def, changed, err := e.patchConnectorConfig(ctx, "a", map[string]*string{"tasks.max": &two}); err != nil || !changed || def.Config["tasks.max"] != "3" {
		t.Fatalf("patch: changed=%v %+v %v", changed, def, err)
	}
	if def, changed, err := e.patchConnectorConfig(ctx, "a", map[string]*string{"tasks.max": nil}); err != nil || !changed {
		t.Fatalf("patch deleting a key: changed=%v %v", changed, err)
	} else if _, ok := def.Config["tasks.max"]; ok {
		t.Fatalf("patch with a null value kept the key: %v", def.Config)
	}
	if _, _, err := e.patchConnectorConfig(ctx, "nobody", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("patch of a missing connector: %v, want ErrNotFound", err)
	}

	if _, changed, err := e.setTargetState(ctx, "a", state.TargetPaused); err != nil || !changed {
		t.Fatalf("pause: changed=%v %v", changed, err)
	}
	if _, changed, err := e.setTargetState(ctx, "a", state.TargetPaused); err != nil || changed {
		t.Fatalf("pause again: changed=%v %v; want no change", changed, err)
	}
	if _, _, err := e.setTargetState(ctx, "a", "NAPPING"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("bad target: %v, want ErrBadRequest", err)
	}

	offs := map[string]api.Position{"p": api.Position("7")}
	if err := e.changeOffsets(ctx, "a", offs); !errors.Is(err, ErrNotStopped) {
		t.Fatalf("offsets of a PAUSED connector: %v, want ErrNotStopped", err)
	}
	if _, _, err := e.setTargetState(ctx, "a", state.TargetStopped); err != nil {
		t.Fatal(err)
	}
	if err := e.changeOffsets(ctx, "a", offs); err != nil {
		t.Fatalf("offsets of a STOPPED connector: %v", err)
	}
	if got, err := st.Offsets(ctx, "a"); err != nil || !maps.EqualFunc(got, offs, func(a, b api.Position) bool { return string(a) == string(b) }) {
		t.Fatalf("stored offsets %v %v, want %v", got, err, offs)
	}
	if got, err := e.offsets(ctx, "a"); err != nil || len(got.Offsets) != 1 {
		t.Fatalf("offsets as REST shows them: %+v %v", got, err)
	}

	if names, err := e.connectors(ctx); err != nil || len(names) != 2 || names[0] != "a" || names[1] != "b" {
		t.Fatalf("connectors: %v %v, want [a b]", names, err)
	}
	if err := e.deleteConnector(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := e.deleteConnector(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := e.connector(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read after delete: %v, want ErrNotFound", err)
	}
}

// TestEngineGenerations: generations only grow, and an observed one (a
// task of an earlier run, read from the store) is never handed out again.
func TestEngineGenerations(t *testing.T) {
	t.Parallel()
	e, _ := engineUnderTest(t)
	prev := e.nextGen()
	for range 1000 {
		g := e.nextGen()
		if g <= prev {
			t.Fatalf("generation %d after %d", g, prev)
		}
		prev = g
	}
	future := prev + 1<<40
	e.observeGen(future)
	if g := e.nextGen(); g <= future {
		t.Fatalf("generation %d after observing %d", g, future)
	}
}
