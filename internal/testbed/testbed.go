package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// upHint tells a reader what to do about a missing service.
const upHint = "run deploy/testbed/testbed.sh up (see docs/testing.md)"

// dialTimeout bounds the reachability check; everything is on loopback, so
// a healthy service answers in well under a millisecond.
const dialTimeout = time.Second

// MySQLConfig reaches the test bed's private MariaDB instance.
type MySQLConfig struct {
	Host     string
	Port     int
	User     string // the CDC user: binlog rights on *.*, ALL on ferry% databases
	Password string
	// RootPassword is for tests that need more than the CDC user may do;
	// empty when the environment does not provide it.
	RootPassword string
}

// Addr is host:port.
func (c MySQLConfig) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// DSN is a github.com/go-sql-driver/mysql data source name for database db
// (may be empty) as the CDC user, with parseTime so DATETIME scans into
// time.Time.
func (c MySQLConfig) DSN(db string) string {
	return fmt.Sprintf("%s:%s@tcp(%s)/%s?parseTime=true", c.User, c.Password, c.Addr(), db)
}

// RootDSN is DSN as root.
func (c MySQLConfig) RootDSN(db string) string {
	return fmt.Sprintf("root:%s@tcp(%s)/%s?parseTime=true", c.RootPassword, c.Addr(), db)
}

// SLSConfig reaches the SLS (Log Service) emulator.
type SLSConfig struct {
	Endpoint        string // http://127.0.0.1:port
	AccessKeyID     string
	AccessKeySecret string
}

// MNSConfig reaches the MNS (Message Service) emulator.
type MNSConfig struct {
	Endpoint        string // http://127.0.0.1:port
	AccessKeyID     string
	AccessKeySecret string
}

// DTSConfig reaches the DTS subscription emulator, which speaks the Kafka
// protocol.
type DTSConfig struct {
	Brokers  []string
	User     string
	Password string
	Group    string
	Topic    string
}

// service describes one test bed service: the keys it needs (without the
// FERRY_TESTBED_ prefix) and how to find the addresses to dial from them.
type service struct {
	name  string
	lock  string // lockKey of the testbed.sh service behind it
	keys  []string
	addrs func(e env) ([]string, error)
}

func addrList(key string) func(env) ([]string, error) {
	return func(e env) ([]string, error) {
		var out []string
		for _, a := range strings.Split(e.get(keyPrefix+key), ",") {
			if a = strings.TrimSpace(a); a != "" {
				if _, _, err := net.SplitHostPort(a); err != nil {
					return nil, fmt.Errorf("%w: %s: %v", ErrBadValue, e.describe(keyPrefix+key), err)
				}
				out = append(out, a)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: %s: no address", ErrBadValue, e.describe(keyPrefix+key))
		}
		return out, nil
	}
}

func endpointAddr(key string) func(env) ([]string, error) {
	return func(e env) ([]string, error) {
		u, err := url.Parse(e.get(keyPrefix + key))
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%w: %s: want http://host:port", ErrBadValue, e.describe(keyPrefix+key))
		}
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), map[bool]string{true: "443", false: "80"}[u.Scheme == "https"])
		}
		return []string{host}, nil
	}
}

var (
	svcRocketMQ = service{name: "rocketmq", lock: "rocketmq", keys: []string{"ROCKETMQ_NAMESRV"}, addrs: addrList("ROCKETMQ_NAMESRV")}
	svcBroker   = service{name: "rocketmq broker", lock: "rocketmq", keys: []string{"ROCKETMQ_BROKER"}, addrs: addrList("ROCKETMQ_BROKER")}
	svcKafka    = service{name: "kafka", lock: "kafka", keys: []string{"KAFKA_BROKERS"}, addrs: addrList("KAFKA_BROKERS")}
	svcMySQL    = service{
		name: "mariadb",
		lock: "mariadb",
		keys: []string{"MYSQL_HOST", "MYSQL_PORT", "MYSQL_USER", "MYSQL_PASSWORD"},
		addrs: func(e env) ([]string, error) {
			if _, err := strconv.ParseUint(e.get(keyPrefix+"MYSQL_PORT"), 10, 16); err != nil {
				return nil, fmt.Errorf("%w: %s: not a port", ErrBadValue, e.describe(keyPrefix+"MYSQL_PORT"))
			}
			return []string{net.JoinHostPort(e.get(keyPrefix+"MYSQL_HOST"), e.get(keyPrefix+"MYSQL_PORT"))}, nil
		},
	}
	svcSLS = service{name: "sls emulator", lock: "sls", keys: []string{"SLS_ENDPOINT", "SLS_ACCESS_KEY_ID", "SLS_ACCESS_KEY_SECRET"}, addrs: endpointAddr("SLS_ENDPOINT")}
	svcMNS = service{name: "mns emulator", lock: "mns", keys: []string{"MNS_ENDPOINT", "MNS_ACCESS_KEY_ID", "MNS_ACCESS_KEY_SECRET"}, addrs: endpointAddr("MNS_ENDPOINT")}
	svcDTS = service{
		name:  "dts emulator",
		lock:  "dts",
		keys:  []string{"DTS_BROKERS", "DTS_USER", "DTS_PASSWORD", "DTS_GROUP", "DTS_TOPIC"},
		addrs: addrList("DTS_BROKERS"),
	}
)

// resolve loads the configuration, checks that svc is fully configured and
// that every address accepts a TCP connection.
func (s source) resolve(ctx context.Context, svc service) (env, error) {
	e, err := s.load()
	if err != nil {
		return e, fmt.Errorf("testbed: %s: %w", svc.name, err)
	}
	var missing []string
	for _, k := range svc.keys {
		if e.get(keyPrefix+k) == "" {
			missing = append(missing, keyPrefix+k)
		}
	}
	if len(missing) > 0 {
		where := "no env file found from " + s.wd
		if e.file != "" {
			where = "not in the environment nor in " + e.file
		}
		return e, fmt.Errorf("%w: %s: %s (%s)", ErrNotConfigured, svc.name, strings.Join(missing, ", "), where)
	}
	addrs, err := svc.addrs(e)
	if err != nil {
		return e, fmt.Errorf("testbed: %s: %w", svc.name, err)
	}
	var d net.Dialer
	for _, a := range addrs {
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		c, err := d.DialContext(dctx, "tcp", a)
		cancel()
		if err != nil {
			return e, fmt.Errorf("%w: %s at %s: %v (stale env file or stopped service?)", ErrUnreachable, svc.name, a, err)
		}
		c.Close()
	}
	return e, nil
}

// inCI reports whether CI is set to a true value, as CI systems do.
func (s source) inCI() bool {
	ci, _ := strconv.ParseBool(s.getenv("CI"))
	return ci
}

// need resolves svc or stops the test: Skip outside CI, Fatal in CI. On a
// real testing.TB neither returns; ok is false for stand-ins that do. A
// resolved service is share-locked until the test ends (see lock.go).
func (s source) need(tb testing.TB, svc service) (e env, ok bool) {
	tb.Helper()
	e, err := s.resolve(context.Background(), svc)
	if err == nil {
		if err := share(tb, e.lockDir(s), svc.lock); err != nil {
			tb.Fatal(err)
			return e, false
		}
		return e, true
	}
	s.unavailable(tb, err.Error()+"; "+upHint)
	return e, false
}

// RocketMQ returns the name server address (host:port) of the test bed's
// RocketMQ, for primitive.NewPassthroughResolver.
func RocketMQ(tb testing.TB) string {
	tb.Helper()
	e, _ := osSource().need(tb, svcRocketMQ)
	return e.get(keyPrefix + "ROCKETMQ_NAMESRV")
}

// RocketMQBroker returns the broker's address (host:port), which topic
// creation and reading a queue directly need.
func RocketMQBroker(tb testing.TB) string {
	tb.Helper()
	e, _ := osSource().need(tb, svcBroker)
	return e.get(keyPrefix + "ROCKETMQ_BROKER")
}

// Kafka returns the bootstrap broker addresses of the test bed's Kafka.
func Kafka(tb testing.TB) []string {
	tb.Helper()
	e, ok := osSource().need(tb, svcKafka)
	if !ok {
		return nil
	}
	addrs, _ := svcKafka.addrs(e)
	return addrs
}

// MySQL returns how to reach the test bed's MariaDB.
func MySQL(tb testing.TB) MySQLConfig {
	tb.Helper()
	e, _ := osSource().need(tb, svcMySQL)
	return mysqlConfig(e)
}

func mysqlConfig(e env) MySQLConfig {
	port, _ := strconv.Atoi(e.get(keyPrefix + "MYSQL_PORT"))
	return MySQLConfig{
		Host:         e.get(keyPrefix + "MYSQL_HOST"),
		Port:         port,
		User:         e.get(keyPrefix + "MYSQL_USER"),
		Password:     e.get(keyPrefix + "MYSQL_PASSWORD"),
		RootPassword: e.get(keyPrefix + "MYSQL_ROOT_PASSWORD"),
	}
}

// SLS returns how to reach the SLS emulator.
func SLS(tb testing.TB) SLSConfig {
	tb.Helper()
	ep, id, secret := accessKeyService(tb, svcSLS, "SLS")
	return SLSConfig{Endpoint: ep, AccessKeyID: id, AccessKeySecret: secret}
}

// MNS returns how to reach the MNS emulator.
func MNS(tb testing.TB) MNSConfig {
	tb.Helper()
	ep, id, secret := accessKeyService(tb, svcMNS, "MNS")
	return MNSConfig{Endpoint: ep, AccessKeyID: id, AccessKeySecret: secret}
}

// accessKeyService reads the endpoint and access key of an HTTP emulator
// whose keys are FERRY_TESTBED_<name>_{ENDPOINT,ACCESS_KEY_ID,ACCESS_KEY_SECRET}.
func accessKeyService(tb testing.TB, svc service, name string) (endpoint, id, secret string) {
	tb.Helper()
	e, _ := osSource().need(tb, svc)
	p := keyPrefix + name + "_"
	return e.get(p + "ENDPOINT"), e.get(p + "ACCESS_KEY_ID"), e.get(p + "ACCESS_KEY_SECRET")
}

// DTS returns how to reach the DTS emulator.
func DTS(tb testing.TB) DTSConfig {
	tb.Helper()
	e, ok := osSource().need(tb, svcDTS)
	if !ok {
		return DTSConfig{}
	}
	brokers, _ := svcDTS.addrs(e)
	return DTSConfig{
		Brokers:  brokers,
		User:     e.get(keyPrefix + "DTS_USER"),
		Password: e.get(keyPrefix + "DTS_PASSWORD"),
		Group:    e.get(keyPrefix + "DTS_GROUP"),
		Topic:    e.get(keyPrefix + "DTS_TOPIC"),
	}
}

// Script returns the absolute path of deploy/testbed/testbed.sh, found from
// the working directory's module root (go test runs in the package
// directory) or, failing that, from this source file's location.
func Script() string {
	return scriptFrom(osSource().wd)
}

func scriptFrom(wd string) string {
	rel := filepath.Join("deploy", "testbed", "testbed.sh")
	if root, ok := moduleRoot(wd); ok && isFile(filepath.Join(root, rel)) {
		return filepath.Join(root, rel)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		return filepath.Join(filepath.Dir(file), "..", "..", rel)
	}
	return rel
}

// runTimeout bounds one script invocation: a RocketMQ restart takes about
// 35 s here, a cold `up` minutes.
const runTimeout = 5 * time.Minute

// Run runs testbed.sh with args (for example "restart", "rocketmq"), logs
// its output and fails the test if it fails.
//
// For start, stop and restart it first takes the service's exclusive lock,
// so it waits until tests of other packages (other processes) that obtained
// the service have finished, and tests that ask for the service meanwhile
// wait for it; the calling test's own hold is set aside. Tests of the same
// package still running in parallel are not waited for: a test that
// disrupts a service must not be parallel.
func Run(tb testing.TB, args ...string) {
	tb.Helper()
	var extraEnv []string
	if len(args) == 2 && (args[0] == "start" || args[0] == "stop" || args[0] == "restart") {
		src := osSource()
		e, err := src.load()
		if err != nil {
			tb.Fatal(err)
		}
		if dir := e.lockDir(src); dir != "" {
			waited := time.Now()
			release, err := exclusive(tb, dir, lockKey(args[1]))
			if err != nil {
				tb.Fatal(err)
			}
			defer release()
			// The script would otherwise wait for the lock this test holds.
			extraEnv = append(extraEnv, "FERRY_TESTBED_USERS_LOCKED=1")
			if d := time.Since(waited); d > time.Second {
				tb.Logf("testbed: waited %s for other tests to release %s", d.Round(time.Millisecond), args[1])
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", append([]string{Script()}, args...)...)
	cmd.Env = append(os.Environ(), extraEnv...)
	out, err := cmd.CombinedOutput()
	tb.Logf("testbed.sh %s (%s):\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s: %w", runTimeout, err)
		}
		tb.Fatalf("testbed.sh %s: %v", strings.Join(args, " "), err)
	}
}
