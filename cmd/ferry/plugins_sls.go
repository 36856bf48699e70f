//go:build !ferry_no_sls

package main

import "github.com/ferryhq/ferry/connectors/sls"

// The sls source and sink (aliyun-log-go-sdk); the build tag ferry_no_sls leaves it out.
func init() {
	sources = append(sources, sls.Source)
	sinks = append(sinks, sls.Sink)
}
