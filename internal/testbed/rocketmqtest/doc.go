// Package rocketmqtest is test support that needs the RocketMQ client:
// creating topics on the test bed's broker and reading them back. It is apart from package
// testbed because rocketmq-client-go starts goroutines when it is
// initialised, which goroutine-leak checks of tests that only need the
// test bed's addresses must not see.
package rocketmqtest
