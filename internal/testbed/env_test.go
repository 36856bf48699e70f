package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr bool
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{
			name: "script output",
			in:   "FERRY_TESTBED_KAFKA_BROKERS=127.0.0.1:19092\nFERRY_TESTBED_MYSQL_PORT=13306\n",
			want: map[string]string{"FERRY_TESTBED_KAFKA_BROKERS": "127.0.0.1:19092", "FERRY_TESTBED_MYSQL_PORT": "13306"},
		},
		{
			name: "comments blanks export quotes",
			in:   "# written by testbed.sh\n\nexport A=1\nB=\"two words\"\nC='x=y'\n  D = spaced  \n",
			want: map[string]string{"A": "1", "B": "two words", "C": "x=y", "D": "spaced"},
		},
		{name: "empty value", in: "A=\n", want: map[string]string{"A": ""}},
		{name: "unmatched quote kept", in: "A=\"x\n", want: map[string]string{"A": "\"x"}},
		{name: "later wins", in: "A=1\nA=2\n", want: map[string]string{"A": "2"}},
		{name: "no equals", in: "A=1\ngarbage\n", wantErr: true},
		{name: "empty key", in: "=1\n", wantErr: true},
		{name: "bad key", in: "A-B=1\n", wantErr: true},
		{name: "digit first", in: "1A=1\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseEnv(strings.NewReader(tc.in))
			if tc.wantErr {
				if !errors.Is(err, ErrBadValue) {
					t.Fatalf("ParseEnv(%q) error = %v, want ErrBadValue", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEnv(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseEnv(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzParseEnv(f *testing.F) {
	f.Add("FERRY_TESTBED_KAFKA_BROKERS=127.0.0.1:19092\n")
	f.Add("# c\nexport A='b'\n\nB=\"c\"\n")
	f.Add("=\n")
	f.Add("A=\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		vals, err := ParseEnv(strings.NewReader(in))
		if err != nil {
			return
		}
		// Whatever parses must survive a write/read round trip of its keys.
		var b strings.Builder
		for k, v := range vals {
			if !validKey(k) {
				t.Fatalf("accepted invalid key %q", k)
			}
			if strings.Contains(v, "\n") {
				t.Fatalf("value of %q spans lines: %q", k, v)
			}
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
		if _, err := ParseEnv(strings.NewReader(b.String())); err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
	})
}

// tree makes a module layout in a temp dir: root/go.mod, root/a/b, and
// root/.testbed/env with the given content ("" for no env file).
func tree(t *testing.T, envContent string) (root, sub string) {
	t.Helper()
	root = t.TempDir()
	sub = filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if envContent != "" {
		if err := os.MkdirAll(filepath.Join(root, stateDirName), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, stateDirName, envFileName), []byte(envContent), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, sub
}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		file     string
		vars     map[string]string
		useDir   bool // point FERRY_TESTBED_DIR at the state dir
		want     map[string]string
		wantFrom map[string]string // key -> "file" or "environment"
	}{
		{
			name:     "file found walking up",
			file:     "FERRY_TESTBED_KAFKA_BROKERS=127.0.0.1:1\n",
			want:     map[string]string{"FERRY_TESTBED_KAFKA_BROKERS": "127.0.0.1:1"},
			wantFrom: map[string]string{"FERRY_TESTBED_KAFKA_BROKERS": "file"},
		},
		{
			name: "environment wins per key",
			file: "FERRY_TESTBED_KAFKA_BROKERS=127.0.0.1:1\nFERRY_TESTBED_MYSQL_PORT=2\n",
			vars: map[string]string{"FERRY_TESTBED_KAFKA_BROKERS": "127.0.0.1:9", "PATH": "/bin"},
			want: map[string]string{"FERRY_TESTBED_KAFKA_BROKERS": "127.0.0.1:9", "FERRY_TESTBED_MYSQL_PORT": "2"},
			wantFrom: map[string]string{
				"FERRY_TESTBED_KAFKA_BROKERS": "environment", "FERRY_TESTBED_MYSQL_PORT": "file",
			},
		},
		{
			name:     "empty environment value does not mask the file",
			file:     "FERRY_TESTBED_MYSQL_PORT=2\n",
			vars:     map[string]string{"FERRY_TESTBED_MYSQL_PORT": ""},
			want:     map[string]string{"FERRY_TESTBED_MYSQL_PORT": "2"},
			wantFrom: map[string]string{"FERRY_TESTBED_MYSQL_PORT": "file"},
		},
		{
			name:     "no file, environment only",
			vars:     map[string]string{"FERRY_TESTBED_MYSQL_PORT": "3"},
			want:     map[string]string{"FERRY_TESTBED_MYSQL_PORT": "3"},
			wantFrom: map[string]string{"FERRY_TESTBED_MYSQL_PORT": "environment"},
		},
		{
			name:     "FERRY_TESTBED_DIR",
			file:     "FERRY_TESTBED_MYSQL_PORT=4\n",
			useDir:   true,
			want:     map[string]string{"FERRY_TESTBED_MYSQL_PORT": "4"},
			wantFrom: map[string]string{"FERRY_TESTBED_MYSQL_PORT": "file"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root, sub := tree(t, tc.file)
			vars := map[string]string{}
			for k, v := range tc.vars {
				vars[k] = v
			}
			wd := sub
			if tc.useDir {
				vars[dirKey] = filepath.Join(root, stateDirName)
				wd = t.TempDir() // nowhere near the module
			}
			e, err := source{vars: vars, wd: wd}.load()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range e.vals {
				if k != dirKey {
					got[k] = v
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("vals = %v, want %v", got, tc.want)
			}
			file := filepath.Join(root, stateDirName, envFileName)
			for k, w := range tc.wantFrom {
				if w == "file" {
					w = file
				}
				if e.from[k] != w {
					t.Errorf("from[%s] = %q, want %q", k, e.from[k], w)
				}
			}
		})
	}
}

func TestLoadStopsAtModuleRoot(t *testing.T) {
	t.Parallel()
	// An env file above the module root belongs to some other checkout.
	outer := t.TempDir()
	if err := os.MkdirAll(filepath.Join(outer, stateDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outer, stateDirName, envFileName), []byte("FERRY_TESTBED_MYSQL_PORT=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(outer, "mod")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := source{vars: map[string]string{}, wd: mod}.load()
	if err != nil {
		t.Fatal(err)
	}
	if e.file != "" || len(e.vals) != 0 {
		t.Fatalf("read %q (%v); want no env file", e.file, e.vals)
	}
}

func TestLoadCorruptFile(t *testing.T) {
	t.Parallel()
	_, sub := tree(t, "FERRY_TESTBED_MYSQL_PORT=1\nnot a line\n")
	if _, err := (source{vars: map[string]string{}, wd: sub}).load(); !errors.Is(err, ErrBadValue) {
		t.Fatalf("load error = %v, want ErrBadValue", err)
	}
}

// listener returns the address of a live loopback listener and of a port
// that was just closed (so nothing listens there).
func listener(t *testing.T) (live, dead string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	d, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead = d.Addr().String()
	d.Close()
	return l.Addr().String(), dead
}

func TestResolve(t *testing.T) {
	t.Parallel()
	live, dead := listener(t)
	liveHost, livePort, _ := net.SplitHostPort(live)
	tests := []struct {
		name    string
		svc     service
		vars    map[string]string
		wantErr error
	}{
		{name: "kafka live", svc: svcKafka, vars: map[string]string{"FERRY_TESTBED_KAFKA_BROKERS": live}},
		{name: "kafka list one dead", svc: svcKafka, vars: map[string]string{"FERRY_TESTBED_KAFKA_BROKERS": live + "," + dead}, wantErr: ErrUnreachable},
		{name: "kafka missing", svc: svcKafka, vars: map[string]string{}, wantErr: ErrNotConfigured},
		{name: "kafka no port", svc: svcKafka, vars: map[string]string{"FERRY_TESTBED_KAFKA_BROKERS": "127.0.0.1"}, wantErr: ErrBadValue},
		{name: "kafka only commas", svc: svcKafka, vars: map[string]string{"FERRY_TESTBED_KAFKA_BROKERS": ", ,"}, wantErr: ErrBadValue},
		{name: "rocketmq dead", svc: svcRocketMQ, vars: map[string]string{"FERRY_TESTBED_ROCKETMQ_NAMESRV": dead}, wantErr: ErrUnreachable},
		{
			name: "mysql live",
			svc:  svcMySQL,
			vars: map[string]string{
				"FERRY_TESTBED_MYSQL_HOST": liveHost, "FERRY_TESTBED_MYSQL_PORT": livePort,
				"FERRY_TESTBED_MYSQL_USER": "u", "FERRY_TESTBED_MYSQL_PASSWORD": "p",
			},
		},
		{
			name: "mysql password missing",
			svc:  svcMySQL,
			vars: map[string]string{
				"FERRY_TESTBED_MYSQL_HOST": liveHost, "FERRY_TESTBED_MYSQL_PORT": livePort, "FERRY_TESTBED_MYSQL_USER": "u",
			},
			wantErr: ErrNotConfigured,
		},
		{
			name: "mysql port not a number",
			svc:  svcMySQL,
			vars: map[string]string{
				"FERRY_TESTBED_MYSQL_HOST": liveHost, "FERRY_TESTBED_MYSQL_PORT": "x",
				"FERRY_TESTBED_MYSQL_USER": "u", "FERRY_TESTBED_MYSQL_PASSWORD": "p",
			},
			wantErr: ErrBadValue,
		},
		{
			name: "sls live endpoint",
			svc:  svcSLS,
			vars: map[string]string{
				"FERRY_TESTBED_SLS_ENDPOINT": "http://" + live, "FERRY_TESTBED_SLS_ACCESS_KEY_ID": "id",
				"FERRY_TESTBED_SLS_ACCESS_KEY_SECRET": "s",
			},
		},
		{
			name: "mns endpoint without scheme",
			svc:  svcMNS,
			vars: map[string]string{
				"FERRY_TESTBED_MNS_ENDPOINT": live, "FERRY_TESTBED_MNS_ACCESS_KEY_ID": "id",
				"FERRY_TESTBED_MNS_ACCESS_KEY_SECRET": "s",
			},
			wantErr: ErrBadValue,
		},
		{
			name:    "dts needs every key",
			svc:     svcDTS,
			vars:    map[string]string{"FERRY_TESTBED_DTS_BROKERS": live, "FERRY_TESTBED_DTS_USER": "u"},
			wantErr: ErrNotConfigured,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, sub := tree(t, "")
			_, err := source{vars: tc.vars, wd: sub}.resolve(context.Background(), tc.svc)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("resolve error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// recordingTB stands in for the test handed to an accessor, recording
// whether it was skipped or failed instead of stopping the goroutine.
type recordingTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recordingTB) Helper()                   {}
func (r *recordingTB) Skip(args ...any)          { r.skipped = fmt.Sprint(args...) }
func (r *recordingTB) Fatal(args ...any)         { r.fatal = fmt.Sprint(args...) }
func (r *recordingTB) Skipf(f string, a ...any)  { r.skipped = fmt.Sprintf(f, a...) }
func (r *recordingTB) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...) }

func TestNeedSkipsOrFails(t *testing.T) {
	t.Parallel()
	live, dead := listener(t)
	tests := []struct {
		name      string
		ci        string
		brokers   string
		wantSkip  bool
		wantFatal bool
		wantText  string
	}{
		{name: "missing outside CI skips", wantSkip: true, wantText: "testbed.sh up"},
		{name: "missing in CI fails", ci: "true", wantFatal: true, wantText: "CI=true"},
		{name: "CI=1 counts as CI", ci: "1", wantFatal: true},
		{name: "CI=false skips", ci: "false", wantSkip: true},
		{name: "unreachable outside CI skips", brokers: dead, wantSkip: true, wantText: dead},
		{name: "unreachable in CI fails", ci: "true", brokers: dead, wantFatal: true, wantText: "unreachable"},
		{name: "reachable in CI passes", ci: "true", brokers: live},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, sub := tree(t, "")
			vars := map[string]string{"CI": tc.ci}
			if tc.brokers != "" {
				vars["FERRY_TESTBED_KAFKA_BROKERS"] = tc.brokers
			}
			r := &recordingTB{TB: t}
			e, ok := source{vars: vars, wd: sub}.need(r, svcKafka)
			if got := r.skipped != ""; got != tc.wantSkip {
				t.Errorf("skipped = %q, want skip %v", r.skipped, tc.wantSkip)
			}
			if got := r.fatal != ""; got != tc.wantFatal {
				t.Errorf("fatal = %q, want fatal %v", r.fatal, tc.wantFatal)
			}
			if msg := r.skipped + r.fatal; !strings.Contains(msg, tc.wantText) {
				t.Errorf("message %q does not mention %q", msg, tc.wantText)
			}
			if ok != (!tc.wantSkip && !tc.wantFatal) {
				t.Errorf("ok = %v", ok)
			}
			if ok && e.get("FERRY_TESTBED_KAFKA_BROKERS") != live {
				t.Errorf("brokers = %q, want %q", e.get("FERRY_TESTBED_KAFKA_BROKERS"), live)
			}
		})
	}
}

func TestMySQLConfig(t *testing.T) {
	t.Parallel()
	e := env{vals: map[string]string{
		"FERRY_TESTBED_MYSQL_HOST": "127.0.0.1", "FERRY_TESTBED_MYSQL_PORT": "13306",
		"FERRY_TESTBED_MYSQL_USER": "ferry", "FERRY_TESTBED_MYSQL_PASSWORD": "pw",
		"FERRY_TESTBED_MYSQL_ROOT_PASSWORD": "rpw",
	}}
	c := mysqlConfig(e)
	tests := []struct{ name, got, want string }{
		{"addr", c.Addr(), "127.0.0.1:13306"},
		{"dsn", c.DSN("ferry_test"), "ferry:pw@tcp(127.0.0.1:13306)/ferry_test?parseTime=true"},
		{"dsn no db", c.DSN(""), "ferry:pw@tcp(127.0.0.1:13306)/?parseTime=true"},
		{"root dsn", c.RootDSN("mysql"), "root:rpw@tcp(127.0.0.1:13306)/mysql?parseTime=true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.got != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestScript(t *testing.T) {
	t.Parallel()
	p := Script()
	if !filepath.IsAbs(p) || !isFile(p) {
		t.Fatalf("Script() = %q: not an existing absolute path", p)
	}
	if !strings.HasSuffix(p, filepath.Join("deploy", "testbed", "testbed.sh")) {
		t.Fatalf("Script() = %q", p)
	}
}

// TestRunStatus runs the real script's read-only status command through Run:
// the script parses and runs from a test's working directory.
func TestRunStatus(t *testing.T) {
	t.Parallel()
	Run(t, "status")
}
