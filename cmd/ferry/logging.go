package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// routeLibraryLogs sends client libraries' process-wide loggers into slog,
// so their lines follow --log-level and the worker's format.
func routeLibraryLogs(l *slog.Logger) {
	_ = mysql.SetLogger(mysqlLogger{l.With("lib", "go-sql-driver")})
}

// mysqlLogger adapts the MySQL driver's Print logger; the driver logs only
// connection trouble, which the caller retries, so it is a warning.
type mysqlLogger struct{ l *slog.Logger }

func (m mysqlLogger) Print(v ...any) {
	m.l.Warn(strings.TrimSpace(fmt.Sprint(v...)))
}
