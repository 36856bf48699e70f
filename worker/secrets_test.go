package worker

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/api"
)

func testResolver(env map[string]string, files map[string]string) *secretResolver {
	return &secretResolver{
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		readFile: func(p string) ([]byte, error) {
			if c, ok := files[p]; ok {
				return []byte(c), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
	}
}

func TestResolveSecrets(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PW": "hunter22", "EMPTY": ""}
	files := map[string]string{
		"/s/db.properties":         "# comment\n! bang comment\nuser = admin\npassword=p@ss#word: x\nurl: jdbc:mysql://h:3306/db\n",
		"/s/c:d.props":             "k=v-with-colon-path",
		"/run/secrets/db/password": "k8s-pw\n",
	}
	tests := []struct {
		name    string
		in      string
		want    string
		secrets []string
		wantErr string
	}{
		{"plain", "abc", "abc", nil, ""},
		{"env", "${env:PW}", "hunter22", []string{"hunter22"}, ""},
		{"empty env", "${env:EMPTY}", "", []string{""}, ""},
		{"embedded", "user:${env:PW}@host", "user:hunter22@host", []string{"hunter22"}, ""},
		{"file", "${file:/s/db.properties:password}", "p@ss#word: x", []string{"p@ss#word: x"}, ""},
		{"file colon delimiter", "${file:/s/db.properties:url}", "jdbc:mysql://h:3306/db", []string{"jdbc:mysql://h:3306/db"}, ""},
		{"path with colon", "${file:/s/c:d.props:k}", "v-with-colon-path", []string{"v-with-colon-path"}, ""},
		{"two refs", "${env:PW}/${file:/s/db.properties:user}", "hunter22/admin", []string{"hunter22", "admin"}, ""},
		{"unset env", "${env:NOPE}", "", nil, "environment variable NOPE is not set"},
		{"missing key", "${file:/s/db.properties:nope}", "", nil, `key "nope" not found in /s/db.properties`},
		{"missing file", "${file:/x/y.properties:k}", "", nil, "cannot read /x/y.properties: file does not exist"},
		{"malformed file ref", "${file:/s/db.properties}", "", nil, "want ${file:PATH:KEY}"},
		{"not a reference", "${vault:x}", "${vault:x}", nil, ""},
		{"dir", "${dir:/run/secrets/db:password}", "k8s-pw\n", []string{"k8s-pw\n"}, ""},
		{"dir key climbs", "${dir:/run/secrets/db:..}", "", nil, "KEY a file name in DIRECTORY"},
		{"dir key with slash", "${dir:/run/secrets:db/password}", "", nil, "KEY a file name in DIRECTORY"},
		{"dir missing key", "${dir:/run/secrets/db:user}", "", nil, "cannot read /run/secrets/db/user: file does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, secrets, err := testResolver(env, files).resolve(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errSecret) {
					t.Fatalf("resolve(%q) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				for _, v := range []string{"hunter22", "p@ss", "admin"} {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error %q quotes a secret value", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve(%q): %v", tc.in, err)
			}
			if got != tc.want || strings.Join(secrets, "|") != strings.Join(tc.secrets, "|") {
				t.Errorf("resolve(%q) = %q %q, want %q %q", tc.in, got, secrets, tc.want, tc.secrets)
			}
		})
	}
}

func TestResolveConfigNamesEveryBadKey(t *testing.T) {
	t.Parallel()
	r := testResolver(map[string]string{"A": "alpha-value"}, nil)
	raw := map[string]string{"sink.a": "${env:A}", "sink.b": "${env:B}", "source.c": "${file:/no:k}", "sink.token": "literal-tok"}
	_, _, err := r.resolveConfig(raw, func(k string) bool { return k == "sink.token" })
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"sink.b: cannot resolve secret reference ${env:B}", "source.c: cannot resolve secret reference ${file:/no:k}"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	out, secrets, err := r.resolveConfig(map[string]string{"sink.a": "${env:A}", "sink.token": "literal-tok"}, func(k string) bool { return k == "sink.token" })
	if err != nil || out["sink.a"] != "alpha-value" || len(secrets) != 2 {
		t.Errorf("resolveConfig = %v %q %v", out, secrets, err)
	}
}

func TestScrubHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	sc := newScrubber([]string{"topsecret", "top", "", "topsecretlonger"})
	log := slog.New(sc.handler(slog.NewJSONHandler(&buf, nil))).With("conn", "dsn=topsecret@h")
	log.WithGroup("g").Info("login with topsecretlonger",
		"pw", "topsecret",
		"err", errors.New("auth failed for topsecret"),
		"n", 3,
		slog.Group("inner", "v", "x topsecret y"),
		"d", time.Second,
	)
	out := buf.String()
	if strings.Contains(out, "topsecret") {
		t.Errorf("secret in log: %s", out)
	}
	for _, want := range []string{`"msg":"login with [hidden]"`, `"conn":"dsn=[hidden]@h"`, `"pw":"[hidden]"`, `"err":"auth failed for [hidden]"`, `"n":3`, `"v":"x [hidden] y"`, `"d":1000000000`} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %s", out, want)
		}
	}
	// "top" is shorter than minSecretLen: not scrubbed.
	if got := sc.scrub("stop"); got != "stop" {
		t.Errorf("scrub(stop) = %q", got)
	}
	if got := (*scrubber)(nil).scrub("x"); got != "x" {
		t.Errorf("nil scrubber changed text")
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	p := RestartPolicy{Initial: time.Second, Max: 60 * time.Second}
	for attempt, want := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60} {
		want *= time.Second
		for range 20 {
			got := backoff(p, attempt)
			if got < want || got > want+want/5 {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", attempt, got, want, want+want/5)
			}
		}
	}
	if got := backoff(p, 1000); got > 72*time.Second {
		t.Errorf("backoff(1000) = %v: not capped", got)
	}
}

func TestGenerationClock(t *testing.T) {
	t.Parallel()
	var g generationClock
	a := g.next()
	if a < time.Now().Add(-time.Minute).UnixMicro() {
		t.Errorf("generation %d is not wall-clock based", a)
	}
	g.observe(a + 1_000_000_000) // a store written by a worker whose clock ran ahead
	if b := g.next(); b <= a+1_000_000_000 {
		t.Errorf("next after observe = %d, want above %d", b, a+1_000_000_000)
	}
	prev := g.next()
	for range 1000 {
		n := g.next()
		if n <= prev {
			t.Fatalf("generation went from %d to %d", prev, n)
		}
		prev = n
	}
}

func TestRedactAndConfigInfos(t *testing.T) {
	t.Parallel()
	reg := Registry{
		Sources: []api.SourcePlugin{{Name: "s", Spec: api.Spec{{Name: "password", Secret: true, Type: api.TypeString}, {Name: "n", Type: api.TypeInt, Default: "3"}}}},
		Sinks:   []api.SinkPlugin{{Name: "k", Spec: api.Spec{{Name: "key", Secret: true, Type: api.TypeString, Required: true}}}},
	}
	raw := map[string]string{
		"name": "c", "source": "s", "sink": "k",
		"source.password": "pw-literal", "sink.key": "${env:K}",
		"errors.deadletterqueue.sink": "k", "errors.deadletterqueue.sink.key": "dlq-key-literal",
		"source.client.auth.token": "passthrough-token", "source.n": "x",
	}
	v := Config{Registry: reg, CommitInterval: 5 * time.Second}.validate(raw)
	red := v.redact(raw)
	for k, want := range map[string]string{
		"source.password": api.Redacted, "sink.key": "${env:K}", "errors.deadletterqueue.sink.key": api.Redacted,
		"source.client.auth.token": api.Redacted, "source.n": "x", "name": "c",
	} {
		if red[k] != want {
			t.Errorf("redact[%s] = %q, want %q", k, red[k], want)
		}
	}
	// A secret of the wrong type is not quoted by its error.
	bad := Config{Registry: Registry{Sinks: []api.SinkPlugin{{Name: "k", Spec: api.Spec{{Name: "pin", Type: api.TypeInt, Secret: true}}}},
		Sources: reg.Sources}, CommitInterval: time.Second}.validate(map[string]string{"name": "c", "source": "s", "sink": "k", "sink.pin": "not-a-number-secret"})
	if err := bad.err(); err == nil || strings.Contains(err.Error(), "not-a-number-secret") || !strings.Contains(err.Error(), "sink.pin: must be an integer") {
		t.Errorf("error = %v", err)
	}
	infos := v.configInfos("s")
	// source.n has the wrong type; source.client.auth.token is an
	// undeclared key named like a secret, refused (and still redacted).
	if infos.ErrorCount != 2 {
		t.Errorf("ErrorCount = %d, want 2 (source.n, source.client.auth.token)", infos.ErrorCount)
	}
	byName := map[string]ConfigInfo{}
	for _, c := range infos.Configs {
		byName[c.Value.Name] = c
	}
	if c := byName["source.password"]; c.Value.Value == nil || *c.Value.Value != api.Redacted || c.Definition.Type != "PASSWORD" || c.Definition.Group != groupSource {
		t.Errorf("source.password info = %+v", c)
	}
	if c := byName["source.n"]; len(c.Value.Errors) != 1 || c.Definition.DefaultValue == nil || *c.Definition.DefaultValue != "3" {
		t.Errorf("source.n info = %+v", c)
	}
	if c := byName["tasks.max"]; c.Value.Value == nil || *c.Value.Value != "1" {
		t.Errorf("tasks.max info = %+v (want the default as value)", c)
	}
	if c := byName["errors.tolerance"]; c.Definition.Group != groupErrors || len(c.Value.RecommendedValues) != 2 {
		t.Errorf("errors.tolerance info = %+v", c)
	}
	if _, ok := byName["errors.deadletterqueue.sink.key"]; !ok {
		t.Error("DLQ sink fields missing from ConfigInfos")
	}
	if got := strings.Join(infos.Groups, ","); got != "Common,Errors,Source,Sink,Dead letter queue" {
		t.Errorf("groups = %s", got)
	}
}

func FuzzDecodeOffsets(f *testing.F) {
	f.Add("p0", []byte("123"), "x", []byte{0xff, 0})
	f.Add("", []byte{}, "a\x00b", []byte("\xc3\x28"))
	f.Fuzz(func(t *testing.T, p1 string, pos1 []byte, p2 string, pos2 []byte) {
		if p1 == p2 {
			return
		}
		in := map[string]api.Position{p1: pos1, p2: pos2}
		out, err := decodeOffsets(encodeOffsets(in))
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		for k, v := range in {
			if !bytes.Equal(out[k], v) || out[k] == nil {
				t.Fatalf("partition %q: got %q, want %q", k, out[k], v)
			}
		}
	})
}

func FuzzResolve(f *testing.F) {
	f.Add("${env:A}")
	f.Add("x${file:/p:k}y${env:}")
	f.Add("${file::}")
	f.Add("${env:A")
	f.Fuzz(func(t *testing.T, v string) {
		r := testResolver(map[string]string{"A": "SECRET-A"}, map[string]string{"/p": "k=SECRET-K\n"})
		got, _, err := r.resolve(v)
		if err != nil {
			if strings.Contains(err.Error(), "SECRET-") && !strings.Contains(v, "SECRET-") {
				t.Fatalf("error quotes a secret: %v", err)
			}
			return
		}
		if !strings.Contains(v, "${") && got != v {
			t.Fatalf("value without references changed: %q -> %q", v, got)
		}
	})
}

func FuzzValidate(f *testing.F) {
	f.Add("name", "c", "source", "s", "transforms", "a,a", "transforms.a.type", "t")
	f.Add("sink.", "", "transforms..", "x", "errors.deadletterqueue.sink.", "y", "tasks.max", "-1")
	reg := Registry{
		Sources:    []api.SourcePlugin{{Name: "s", Spec: api.Spec{{Name: "password", Secret: true}}}},
		Sinks:      []api.SinkPlugin{{Name: "k"}},
		Transforms: []api.TransformPlugin{{Name: "t", Spec: api.Spec{{Name: "v", Type: api.TypeInt}}}},
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3, k4, v4 string) {
		raw := map[string]string{k1: v1, k2: v2, k3: v3, k4: v4}
		v := Config{Registry: reg, CommitInterval: time.Second}.validate(raw)
		if (v.cfg == nil) == (v.err() == nil) {
			t.Fatalf("cfg %v vs err %v", v.cfg, v.err())
		}
		infos := v.configInfos("x")
		n := 0
		for _, c := range infos.Configs {
			n += len(c.Value.Errors)
		}
		if n != infos.ErrorCount {
			t.Fatalf("ConfigInfos lists %d errors, ErrorCount %d", n, infos.ErrorCount)
		}
		red := v.redact(raw)
		if p, ok := raw["source.password"]; ok && p != "" && !api.IsReference(p) && red["source.password"] != api.Redacted {
			t.Fatalf("secret not redacted: %q", red["source.password"])
		}
	})
}
