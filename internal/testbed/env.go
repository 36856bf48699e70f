package testbed

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

const (
	// keyPrefix starts every key testbed.sh writes.
	keyPrefix = "FERRY_TESTBED_"
	// stateDirName is testbed.sh's state directory at the module root.
	stateDirName = ".testbed"
	// envFileName is the env file inside the state directory.
	envFileName = "env"
	// dirKey overrides the state directory, as it does for testbed.sh.
	dirKey = keyPrefix + "DIR"
)

// ParseEnv reads the KEY=VALUE lines of an env file. Blank lines and lines
// starting with # are skipped, an "export " prefix is allowed and a value
// may be wrapped in matching single or double quotes (taken literally, no
// escapes). A line without "=" or with an empty or non-identifier key is an
// error, so a corrupt file is reported instead of half read.
//
// The format is the one testbed.sh writes (and `set -a; . .testbed/env`
// reads), which is small enough that a dotenv library would add more
// behaviour — variable expansion, multi-line values — than it removes.
func ParseEnv(r io.Reader) (map[string]string, error) {
	vals := map[string]string{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, val, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !validKey(key) {
			return nil, fmt.Errorf("%w: line %d: want KEY=VALUE, got %q", ErrBadValue, n, sc.Text())
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
			val = val[1 : len(val)-1]
		}
		vals[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("testbed: reading env file: %w", err)
	}
	return vals, nil
}

func validKey(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// env is the merged view of the FERRY_TESTBED_* keys: the process
// environment wins over the env file, key by key, so a developer can point
// one service elsewhere without editing the file.
type env struct {
	vals map[string]string
	from map[string]string // key -> "environment" or the env file's path
	file string            // the env file consulted, "" if none was found
}

func (e env) get(key string) string { return e.vals[key] }

// describe names a key, its value and where it came from, for messages.
func (e env) describe(key string) string {
	return fmt.Sprintf("%s=%s (from %s)", key, e.vals[key], e.from[key])
}

// source is where configuration comes from: the process environment and
// working directory, or stand-ins in this package's tests (which cannot use
// t.Setenv and also run in parallel).
type source struct {
	vars map[string]string
	wd   string
}

func osSource() source {
	wd, err := os.Getwd()
	if err != nil {
		wd = "."
	}
	vars := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return source{vars: vars, wd: wd}
}

func (s source) getenv(k string) string { return s.vars[k] }

// load merges the env file (if any) and the environment.
func (s source) load() (env, error) {
	e := env{vals: map[string]string{}, from: map[string]string{}}
	path, err := s.envFile()
	if err != nil {
		return e, err
	}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return e, fmt.Errorf("testbed: %w", err)
		}
		vals, err := ParseEnv(f)
		f.Close()
		if err != nil {
			return e, fmt.Errorf("%s: %w", path, err)
		}
		for k, v := range vals {
			e.vals[k], e.from[k] = v, path
		}
		e.file = path
	}
	for k, v := range s.vars {
		if strings.HasPrefix(k, keyPrefix) && v != "" {
			e.vals[k], e.from[k] = v, "environment"
		}
	}
	return e, nil
}

// envFile finds the env file: $FERRY_TESTBED_DIR/env when that is set,
// else .testbed/env in the working directory or one of its parents, up to
// and including the module root (the first directory with a go.mod). It
// returns "" without error when there is none.
func (s source) envFile() (string, error) {
	if d := s.getenv(dirKey); d != "" {
		p := filepath.Join(d, envFileName)
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", nil
			}
			return "", fmt.Errorf("testbed: %w", err)
		}
		return p, nil
	}
	dir, err := filepath.Abs(s.wd)
	if err != nil {
		return "", fmt.Errorf("testbed: %w", err)
	}
	for {
		p := filepath.Join(dir, stateDirName, envFileName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if isFile(filepath.Join(dir, "go.mod")) {
			return "", nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// moduleRoot is the first directory at or above dir holding a go.mod.
func moduleRoot(dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
