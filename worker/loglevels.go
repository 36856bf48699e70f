package worker

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Loggers and their levels, as Kafka Connect's /admin/loggers shows and
// changes them at run time. Ferry logs through slog, which has no named
// loggers, so a record's logger is worked out from where it comes from:
//
//   - "root": every record; its level is the worker's --log-level until
//     changed.
//   - a package logger, "ferry." and the package path below the module
//     with dots for slashes, from the function that logged the record:
//     ferry.runtime, ferry.worker, ferry.worker.rest,
//     ferry.connectors.mysql. Levels are inherited down the dots (ferry,
//     ferry.connectors), as in Log4j.
//   - a connector's name: every record logged for that connector (the
//     "connector" attribute the worker adds to its tasks' and supervisor's
//     loggers), whichever package logs it.
//
// The most specific level set applies: a connector's, else the longest
// package logger's, else root's.

// LevelTrace and LevelOff extend slog's levels with Log4j's TRACE (below
// DEBUG) and OFF (nothing is logged); FATAL maps to LevelFatal.
const (
	LevelTrace = slog.LevelDebug - 4
	LevelFatal = slog.LevelError + 4
	LevelOff   = slog.Level(math.MaxInt32)
)

// RootLogger is the name of the logger every record falls back to.
const RootLogger = "root"

// modulePath is the import path whose packages are the ferry.* loggers.
const modulePath = "github.com/ferryhq/ferry/"

// MaxLoggerName bounds a logger's name, in bytes; connector names are
// shorter.
const MaxLoggerName = 512

// packageLoggerName matches ferry and its package loggers.
var packageLoggerName = regexp.MustCompile(`^ferry(\.[a-z0-9_-]+)*$`)

// IsPackageLogger reports whether name has the form of ferry or one of its
// package loggers (ferry.runtime, ferry.connectors.mysql), whether or not
// such a package exists.
func IsPackageLogger(name string) bool {
	return len(name) <= MaxLoggerName && packageLoggerName.MatchString(name)
}

// CheckLoggerName refuses a name no logger can have: a logger is root, a
// package logger or a connector's name (which connector names allow). The
// error is an ErrBadRequest naming the problem.
func CheckLoggerName(name string) error {
	if name == RootLogger || IsPackageLogger(name) {
		return nil
	}
	if err := checkConnectorName(name); err != nil {
		shown := name
		if len(shown) > 64 {
			shown = shown[:64] + "…"
		}
		return &KindError{Kind: ErrBadRequest, Msg: fmt.Sprintf(
			"invalid logger name %q: %v (loggers are root, ferry.<package> and connector names)", shown, err)}
	}
	return nil
}

// LoggerLevel is one logger's level; LastModified is when the API last set
// it (nil when never).
type LoggerLevel struct {
	Level        slog.Level
	LastModified *time.Time
}

// LogLevels holds the levels set at run time and filters records by them
// (Handler). It is safe for concurrent use.
type LogLevels struct {
	mu       sync.RWMutex
	root     LoggerLevel
	explicit map[string]LoggerLevel // every logger but root with a level set
	// floor is the lowest level in force, so Enabled turns away what no
	// logger wants without locking.
	floor atomic.Int64
	// plain is true while only root has a level: records then need no
	// logger name.
	plain atomic.Bool

	pcs sync.Map // uintptr → package logger name
}

// NewLogLevels starts with every record at root (the worker's log level).
func NewLogLevels(root slog.Level) *LogLevels {
	l := &LogLevels{root: LoggerLevel{Level: root}, explicit: map[string]LoggerLevel{}}
	l.floor.Store(int64(root))
	l.plain.Store(true)
	return l
}

// ParseLevel reads a Log4j level name (TRACE, DEBUG, INFO, WARN, ERROR,
// FATAL, OFF), case-insensitively, as Kafka Connect accepts them.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "TRACE":
		return LevelTrace, nil
	case "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARN":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	case "FATAL":
		return LevelFatal, nil
	case "OFF":
		return LevelOff, nil
	}
	return 0, fmt.Errorf("invalid log level %q: want TRACE, DEBUG, INFO, WARN, ERROR, FATAL or OFF", s)
}

// LevelName is the Log4j name of a level: the nearest named level at or
// below it.
func LevelName(l slog.Level) string {
	switch {
	case l >= LevelOff:
		return "OFF"
	case l >= LevelFatal:
		return "FATAL"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARN"
	case l >= slog.LevelInfo:
		return "INFO"
	case l >= slog.LevelDebug:
		return "DEBUG"
	}
	return "TRACE"
}

// Loggers returns root and every logger with a level set.
func (l *LogLevels) Loggers() map[string]LoggerLevel {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := maps.Clone(l.explicit)
	out[RootLogger] = l.root
	return out
}

// Level returns the level in force for logger name: its own, else its
// nearest ancestor's, else root's.
func (l *LogLevels) Level(name string) LoggerLevel {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if name == RootLogger {
		return l.root
	}
	if lv, ok := l.ancestorLocked(name); ok {
		return lv
	}
	return LoggerLevel{Level: l.root.Level}
}

// SetLevel sets logger name's level, and the level of every logger below
// it that has one of its own (root: every logger), as Kafka Connect does.
// It returns the loggers it changed, sorted.
func (l *LogLevels) SetLevel(name string, level slog.Level) []string {
	now := time.Now().UTC()
	set := LoggerLevel{Level: level, LastModified: &now}
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := []string{name}
	if name == RootLogger {
		l.root = set
	} else {
		l.explicit[name] = set
	}
	for k := range l.explicit {
		if k != name && (name == RootLogger || strings.HasPrefix(k, name+".")) {
			l.explicit[k] = set
			changed = append(changed, k)
		}
	}
	floor := l.root.Level
	for _, lv := range l.explicit {
		floor = min(floor, lv.Level)
	}
	l.floor.Store(int64(floor))
	l.plain.Store(len(l.explicit) == 0)
	slices.Sort(changed)
	return changed
}

// ancestorLocked finds the level of name or of its nearest dotted ancestor.
func (l *LogLevels) ancestorLocked(name string) (LoggerLevel, bool) {
	for n := name; n != ""; {
		if lv, ok := l.explicit[n]; ok {
			return lv, true
		}
		i := strings.LastIndexByte(n, '.')
		if i < 0 {
			break
		}
		n = n[:i]
	}
	return LoggerLevel{}, false
}

// threshold is the level a record must reach: by its connector's level,
// else its package logger's, else root's.
func (l *LogLevels) threshold(connector string, pc uintptr) slog.Level {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.explicit) == 0 {
		return l.root.Level
	}
	if connector != "" {
		if lv, ok := l.explicit[connector]; ok {
			return lv.Level
		}
	}
	if lv, ok := l.ancestorLocked(l.packageLogger(pc)); ok {
		return lv.Level
	}
	return l.root.Level
}

// packageLogger names the package logger of the function at pc
// ("ferry.runtime"); "" when unknown.
func (l *LogLevels) packageLogger(pc uintptr) string {
	if pc == 0 {
		return ""
	}
	if v, ok := l.pcs.Load(pc); ok {
		return v.(string)
	}
	// CallersFrames, not FuncForPC: where slog's methods were inlined
	// into the caller, FuncForPC names slog.
	frame, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	name := PackageLogger(frame.Function)
	l.pcs.Store(pc, name)
	return name
}

// PackageLogger maps a function's full name
// ("github.com/ferryhq/ferry/worker/rest.(*Server).health") to the
// logger of its package ("ferry.worker.rest"); functions outside the
// module keep their package path with dots.
func PackageLogger(funcName string) string {
	// The package path ends at the first dot after the last slash.
	slash := strings.LastIndexByte(funcName, '/')
	dot := strings.IndexByte(funcName[slash+1:], '.')
	pkg := funcName
	if dot >= 0 {
		pkg = funcName[:slash+1+dot]
	}
	if rest, ok := strings.CutPrefix(pkg, modulePath); ok {
		return "ferry." + strings.ReplaceAll(rest, "/", ".")
	}
	if pkg == strings.TrimSuffix(modulePath, "/") {
		return "ferry"
	}
	return strings.ReplaceAll(pkg, "/", ".")
}

// Handler wraps h so records below their logger's level are dropped. h
// itself should let every level through (LevelTrace): the levels here
// decide.
func (l *LogLevels) Handler(h slog.Handler) slog.Handler {
	return &levelHandler{levels: l, h: h}
}

type levelHandler struct {
	levels    *LogLevels
	h         slog.Handler
	connector string // the connector attribute of the logger, if any
}

func (h *levelHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return int64(level) >= h.levels.floor.Load() && h.h.Enabled(ctx, level)
}

func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.levels.plain.Load() {
		// Only root has a level, and with one level the floor is root's.
		if int64(r.Level) < h.levels.floor.Load() {
			return nil
		}
		return h.h.Handle(ctx, r)
	}
	connector := h.connector
	if connector == "" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "connector" {
				connector = a.Value.String()
				return false
			}
			return true
		})
	}
	if r.Level < h.levels.threshold(connector, r.PC) {
		return nil
	}
	return h.h.Handle(ctx, r)
}

func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	connector := h.connector
	for _, a := range attrs {
		if a.Key == "connector" {
			connector = a.Value.String()
		}
	}
	return &levelHandler{levels: h.levels, h: h.h.WithAttrs(attrs), connector: connector}
}

func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{levels: h.levels, h: h.h.WithGroup(name), connector: h.connector}
}
