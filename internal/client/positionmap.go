package client

import (
	"context"
	"net/http"

	"github.com/ferryhq/ferry/worker"
)

// PositionMaps returns the position maps of a connector's running tasks
// (GET /connectors/{name}/offsets/mapping).
func (c *Client) PositionMaps(ctx context.Context, name string) (worker.PositionMapsInfo, error) {
	var out worker.PositionMapsInfo
	err := c.do(ctx, http.MethodGet, connectorPath(name, "offsets", "mapping"), nil, nil, &out)
	return out, err
}

// TranslateOffsets translates a consumer's source offsets into target
// offsets (POST /connectors/{name}/offsets/mapping/translate).
func (c *Client) TranslateOffsets(ctx context.Context, name string, offsets map[string]int64) (worker.OffsetTranslationInfo, error) {
	var out worker.OffsetTranslationInfo
	err := c.do(ctx, http.MethodPost, connectorPath(name, "offsets", "mapping", "translate"), nil, worker.TranslateRequest{Offsets: offsets}, &out)
	return out, err
}

// PositionMaps is what the cluster herder asks another worker for
// (worker.PositionMapSource); the call is marked forwarded, so the worker
// answers for itself alone.
func (p *Peer) PositionMaps(ctx context.Context, name string) (worker.PositionMapsInfo, error) {
	out, err := p.c.PositionMaps(ctx, name)
	return out, p.answer(err)
}
