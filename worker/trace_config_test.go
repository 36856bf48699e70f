package worker_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/state"
)

// TestTraceSampleRateIsBounded: trace.sample.rate is a share from 0 to 1;
// anything else (NaN and infinities included) is refused on its field.
func TestTraceSampleRateIsBounded(t *testing.T) {
	t.Parallel()
	w := startHerd(t, nil, nil)
	for _, v := range []string{"NaN", "-0.001", "1.5", "Inf", "-Inf", "1e309", "0.1%", "one"} {
		_, err := w.CreateConnector(context.Background(), "tr", with(baseConfig("tr"), "trace.sample.rate", v), state.TargetStopped)
		var ve *api.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "trace.sample.rate" {
			t.Errorf("trace.sample.rate=%q: got %v, want one field error on it", v, err)
		}
	}
	for i, v := range []string{"0", "0.001", "1"} {
		name := "ok" + string(rune('a'+i))
		if _, err := w.CreateConnector(context.Background(), name, with(baseConfig(name), "trace.sample.rate", v), state.TargetStopped); err != nil {
			t.Errorf("trace.sample.rate=%s: %v", v, err)
		}
	}
}
