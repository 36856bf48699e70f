//go:build !ferry_no_rds

package main

import "github.com/ferryhq/ferry/connectors/rds"

// The rds sink (go-sql-driver/mysql); the build tag ferry_no_rds leaves it out.
func init() {
	sinks = append(sinks, rds.Sink)
}
