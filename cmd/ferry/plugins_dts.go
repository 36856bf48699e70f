//go:build !ferry_no_dts

package main

import "github.com/ferryhq/ferry/connectors/dts"

// The dts source (Avro, the DTS SDK); the build tag ferry_no_dts leaves it out.
func init() {
	sources = append(sources, dts.Source)
}
