package sls_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
	emu "github.com/ferryhq/ferry/internal/emulator/sls"
	"github.com/ferryhq/ferry/internal/emulator/sls/slstest"
)

// TestSignatureVersions: under signature.version v1 and v4 the sink
// writes and the source reads back with the right secret, and a wrong
// secret fails Open, fatal, saying what to fix. A private emulator: the
// test bed's process may predate v4.
func TestSignatureVersions(t *testing.T) {
	t.Parallel()
	b, _ := privateSLS(t, emu.Config{})
	for _, v := range []struct {
		name string
		kv   []string
	}{
		{"v1", nil},
		{"v4", []string{"signature.version", "v4", "region", "cn-hangzhou"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			proj := slstest.Name("ferry-sig-" + v.name)
			b.Store(t, proj, "events", 1)
			recs := generate(t, 20, 50)
			if err := write(open(t, b.config(proj, "events", v.kv...)), recs); err != nil {
				t.Fatalf("write: %v", err)
			}
			src := openSrc(t, b.sourceConfig(proj, "events", v.kv...), nil)
			if got := readSrc(t, src, len(recs)); len(got) != len(recs) {
				t.Fatalf("read %d of %d", len(got), len(recs))
			}

			wrong := append([]string{"access.key.secret", "not-the-secret"}, v.kv...)
			s, err := newSink(t, b.config(proj, "events", wrong...))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = s.Open(ctx)
			_ = s.Close(ctx)
			if err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), "access.key.secret does not match access.key.id") {
				t.Fatalf("sink Open with a wrong secret = %v (fatal %v); want fatal naming access.key.secret", err, api.IsFatal(err))
			}
			src2, err := newSLSSource(b.sourceConfig(proj, "events", wrong...), 0, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = src2.Open(ctx)
			if err == nil {
				_ = src2.Close(ctx)
			}
			if err == nil || !api.IsFatal(err) || !strings.Contains(err.Error(), "access.key.secret does not match access.key.id") {
				t.Fatalf("source Open with a wrong secret = %v (fatal %v); want fatal naming access.key.secret", err, api.IsFatal(err))
			}
		})
	}
}
