package rest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/worker"
)

// mapFake is the REST fake with position maps: it answers one map and
// echoes a translation's offsets as targets.
type mapFake struct {
	*restFake
	got map[string]int64
}

func (f *mapFake) PositionMaps(_ context.Context, name string) (worker.PositionMapsInfo, error) {
	return worker.PositionMapsInfo{Partitions: []worker.PartitionMapInfo{{Partition: "s/b/0", WorkerID: "w1", From: 3,
		Targets: []worker.TargetSyncsInfo{{Target: "t/b/1", Syncs: []worker.PositionSyncInfo{{Next: 4, Offset: 9}}}}}}}, nil
}

func (f *mapFake) TranslateOffsets(_ context.Context, name string, offsets map[string]int64) (worker.OffsetTranslationInfo, error) {
	f.got = offsets
	return worker.OffsetTranslationInfo{Targets: map[string]int64{"t/b/1": 10}, Unknown: []worker.UntranslatedInfo{}}, nil
}

// TestPositionMapRoutes: the map and the translation as JSON, a body
// that is not the request refused, and 404 from a Controller without
// maps.
func TestPositionMapRoutes(t *testing.T) {
	t.Parallel()
	f := &mapFake{restFake: newRestFake()}
	h := newTestServer(t, f, nil).Handler()
	do := func(method, path, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, "http://127.0.0.1"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := do("GET", "/connectors/x/offsets/mapping", "")
	want := `{"partitions":[{"partition":"s/b/0","task":0,"worker_id":"w1","from":3,"targets":[{"target":"t/b/1","syncs":[{"next":4,"offset":9}]}]}]}`
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != want {
		t.Errorf("GET mapping: %d %s\nwant %s", rec.Code, rec.Body.String(), want)
	}
	rec = do("POST", "/connectors/x/offsets/mapping/translate", `{"offsets":{"s/b/0":7}}`)
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"targets":{"t/b/1":10},"unknown":[]}` || f.got["s/b/0"] != 7 {
		t.Errorf("POST translate: %d %s (asked %v)", rec.Code, rec.Body.String(), f.got)
	}
	for _, body := range []string{`{"offsets":{"s/b/0":"7"}}`, `{"offsets":{"s/b/0":1.5}}`, `[1]`, `{"offsets":{"s/b/0":99999999999999999999}}`} {
		if rec := do("POST", "/connectors/x/offsets/mapping/translate", body); rec.Code != http.StatusBadRequest {
			t.Errorf("translate %s: %d %s; want 400", body, rec.Code, rec.Body.String())
		}
	}

	plain := newTestServer(t, newRestFake(), nil).Handler()
	for _, r := range [][2]string{{"GET", "/connectors/x/offsets/mapping"}, {"POST", "/connectors/x/offsets/mapping/translate"}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(r[0], "http://127.0.0.1"+r[1], strings.NewReader(`{"offsets":{"a":1}}`))
		req.Header.Set("Content-Type", "application/json")
		plain.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "does not serve position maps") {
			t.Errorf("%s %s without maps: %d %s", r[0], r[1], rec.Code, rec.Body.String())
		}
	}
}
