//go:build !ferry_no_mns

package main

import mnssink "github.com/ferryhq/ferry/connectors/mns"

// The mns sink (the MNS SDK); the build tag ferry_no_mns leaves it out.
func init() {
	sinks = append(sinks, mnssink.Sink)
}
