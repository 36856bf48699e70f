package generator

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ferryhq/ferry/api"
)

// Records returns the first n events of a generator source with
// payload.bytes = payload (n ≥ 1): realistic events for the tests and
// benchmarks of sinks, made the way a running generator makes them.
func Records(n, payload int) ([]api.Record, error) {
	if n < 1 {
		return nil, fmt.Errorf("generator: Records wants n ≥ 1, got %d", n)
	}
	c, err := spec.Parse(map[string]string{"count": strconv.Itoa(n), "payload.bytes": strconv.Itoa(payload)})
	if err != nil {
		return nil, err
	}
	src, err := newSource(api.TaskConfig{Connector: "gen", Tasks: 1, Config: c})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := src.Open(ctx); err != nil {
		return nil, err
	}
	defer src.Close(ctx)
	out := make([]api.Record, 0, n)
	for {
		recs, err := src.Read(ctx)
		out = append(out, recs...)
		if errors.Is(err, api.ErrEndOfInput) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
