// Package testbed hands integration tests the addresses and credentials of
// the real services that deploy/testbed/testbed.sh runs on 127.0.0.1:
// RocketMQ, Kafka, MariaDB and Ferry's SLS, MNS and DTS emulators.
//
// A test asks for the service it needs and gets a ready-to-use value:
//
//	func TestProduce(t *testing.T) {
//		namesrv := testbed.RocketMQ(t) // "127.0.0.1:19876"
//		...
//	}
//
// Each accessor looks up FERRY_TESTBED_* keys first in the process
// environment and then in the env file that `testbed.sh up` writes
// (.testbed/env, found by walking up from the working directory to the
// module root, or $FERRY_TESTBED_DIR/env). It then dials every address once
// with a short timeout, so a stale env file or a stopped service is reported
// at once with the key, its source and the dial error rather than as a slow
// client time-out deep inside the test.
//
// When a service is missing or unreachable the accessor stops the test:
// with t.Skip outside CI (so `go test ./...` on a laptop without the test bed
// stays green and says how to start it), and with t.Fatal when the CI
// environment variable is true, because a CI run that silently skipped its
// integration tests would claim coverage it does not have.
//
// Accessors may be called from parallel tests. They never start the shared
// services; tests that need to disrupt one (restart the broker, say) call
// Run, which runs the script at Script's path. A test that must
// misconfigure a database calls ScratchMariaDB, which starts a private,
// throwaway server of its own.
//
// Packages' tests run in separate processes at the same time, so services
// are coordinated through file locks in the test bed's run directory: an
// accessor takes a shared lock on its service until the test ends, and Run
// ("start", "stop" or "restart") takes the exclusive one, waiting for other
// processes' tests to finish and making new ones wait (at most four minutes,
// then ErrLockTimeout). Within one package nothing is waited for: a test
// that disrupts a service must not call t.Parallel.
//
// The round-trip tests in this package (RocketMQ, Kafka, MariaDB binlog and a
// RocketMQ restart) double as the test bed's own acceptance test.
package testbed
