package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Tests in different packages run in different processes at the same time
// (go test -p), and a test that restarts a service would break another
// package's test that is using it. So every test that obtains a service
// holds a shared file lock on it (in the test bed's run directory) until the
// test ends, and Run takes the exclusive lock before it stops, starts or
// restarts that service: a restart waits for current users to finish, and
// new users wait for the restart.

// lockKey maps a testbed.sh service name to the lock guarding it.
func lockKey(svc string) string {
	switch svc {
	case "rocketmq", "namesrv", "broker":
		return "rocketmq"
	case "kafka", "mariadb", "sls", "mns", "dts":
		return svc
	}
	return ""
}

// lockDir is where the lock files live: the test bed's run directory next
// to the env file, or "" when the configuration came from the environment
// alone (then there is no shared test bed directory to coordinate through).
func (e env) lockDir(s source) string {
	if d := s.getenv(dirKey); d != "" {
		return filepath.Join(d, "run")
	}
	if e.file != "" {
		return filepath.Join(filepath.Dir(e.file), "run")
	}
	return ""
}

// held records the shared locks each running test holds, so that Run can
// set its own test's locks aside instead of waiting on itself.
var held = struct {
	sync.Mutex
	m map[testing.TB]map[string][]*os.File
}{m: map[testing.TB]map[string][]*os.File{}}

func openLock(dir, key string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testbed: lock dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, key+".users.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testbed: lock file: %w", err)
	}
	return f, nil
}

// share takes a shared lock on key for the rest of tb's life.
func share(tb testing.TB, dir, key string) error {
	if dir == "" || key == "" {
		return nil
	}
	f, err := openLock(dir, key)
	if err != nil {
		return err
	}
	if err := flock(f, lockShared); err != nil {
		f.Close()
		return fmt.Errorf("testbed: shared lock %s: %w", key, err)
	}
	held.Lock()
	if held.m[tb] == nil {
		held.m[tb] = map[string][]*os.File{}
	}
	held.m[tb][key] = append(held.m[tb][key], f)
	held.Unlock()
	tb.Cleanup(func() {
		held.Lock()
		fs := held.m[tb][key]
		for i, g := range fs {
			if g == f {
				held.m[tb][key] = append(fs[:i], fs[i+1:]...)
				break
			}
		}
		if len(held.m[tb][key]) == 0 {
			delete(held.m[tb], key)
		}
		if len(held.m[tb]) == 0 {
			delete(held.m, tb)
		}
		held.Unlock()
		_ = flock(f, lockNone)
		f.Close()
	})
	return nil
}

// exclusive sets tb's own shared locks on key aside, takes the exclusive
// lock and returns a function that gives it back and re-takes the shared
// locks.
func exclusive(tb testing.TB, dir, key string) (release func(), err error) {
	if dir == "" || key == "" {
		return func() {}, nil
	}
	held.Lock()
	own := append([]*os.File(nil), held.m[tb][key]...)
	held.Unlock()
	for _, f := range own {
		_ = flock(f, lockNone)
	}
	f, err := openLock(dir, key)
	if err == nil {
		err = flock(f, lockExclusive)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		for _, g := range own {
			_ = flock(g, lockShared)
		}
		return nil, fmt.Errorf("testbed: exclusive lock %s: %w", key, err)
	}
	return func() {
		_ = flock(f, lockNone)
		f.Close()
		for _, g := range own {
			_ = flock(g, lockShared)
		}
	}, nil
}
