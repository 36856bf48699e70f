// Package rocketmqtest is test support for RocketMQ: creating topics on
// the test bed's broker and reading their messages back, over
// internal/rmqwire (no consumer group, no goroutine left behind). It is
// apart from package testbed because reading returns rocketmq-client-go's
// messages, and tests that only need the test bed's addresses should not
// link that library and run its init-time work.
package rocketmqtest
