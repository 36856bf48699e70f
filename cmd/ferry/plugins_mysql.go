//go:build !ferry_no_mysql

package main

import cdcmysql "github.com/ferryhq/ferry/connectors/mysql"

// The mysql-cdc source (go-mysql, the TiDB parser); the build tag ferry_no_mysql leaves it out.
func init() {
	sources = append(sources, cdcmysql.Source)
}
