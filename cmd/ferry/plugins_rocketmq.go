//go:build !ferry_no_rocketmq

package main

import "github.com/ferryhq/ferry/connectors/rocketmq"

// The rocketmq source and sink; the build tag ferry_no_rocketmq leaves it out.
func init() {
	sources = append(sources, rocketmq.Source)
	sinks = append(sinks, rocketmq.Sink)
}
