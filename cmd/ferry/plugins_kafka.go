//go:build !ferry_no_kafka

package main

import "github.com/ferryhq/ferry/connectors/kafka"

// The kafka source and sink (segmentio/kafka-go); the build tag ferry_no_kafka leaves it out.
func init() {
	sources = append(sources, kafka.Source)
	sinks = append(sinks, kafka.Sink)
}
