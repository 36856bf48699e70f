package rocketmq

import "github.com/ferryhq/ferry/internal/rmqlog"

// routeClientLogs sends rocketmq-client-go's process-wide logging into slog,
// unless the program already chose where it goes.
func routeClientLogs() { rmqlog.Ensure() }
