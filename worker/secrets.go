package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/ferryhq/ferry/api"
)

// refPattern matches a secret reference anywhere in a value:
// ${env:NAME} or ${file:PATH:KEY}. PATH may contain ':' (the last one
// separates the key).
var refPattern = regexp.MustCompile(`\$\{(env|file):([^}]*)\}`)

// errSecret marks a reference that could not be resolved. Its message
// names the reference, never a value.
var errSecret = errors.New("cannot resolve secret reference")

// secretResolver resolves references. Lookups are injectable for tests;
// each properties file is read once per resolver (one task start).
type secretResolver struct {
	lookupEnv func(string) (string, bool)
	readFile  func(string) ([]byte, error)
	files     map[string]map[string]string
}

func newSecretResolver() *secretResolver {
	return &secretResolver{lookupEnv: os.LookupEnv, readFile: os.ReadFile}
}

// resolveConfig returns a copy of raw with every reference replaced by its
// value, and the values that must never be shown: what references resolved
// to and the literal values of secret fields (isSecret). A reference that
// cannot be resolved fails with every such problem named by key.
func (r *secretResolver) resolveConfig(raw map[string]string, isSecret func(key string) bool) (map[string]string, []string, error) {
	out := make(map[string]string, len(raw))
	var secrets []string
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		v := raw[k]
		resolved, found, err := r.resolve(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
			continue
		}
		out[k] = resolved
		secrets = append(secrets, found...)
		if isSecret != nil && isSecret(k) && resolved != "" {
			secrets = append(secrets, resolved)
		}
	}
	return out, secrets, errors.Join(errs...)
}

// resolve replaces every reference in v.
func (r *secretResolver) resolve(v string) (string, []string, error) {
	if !strings.Contains(v, "${") {
		return v, nil, nil
	}
	var found []string
	var firstErr error
	out := refPattern.ReplaceAllStringFunc(v, func(ref string) string {
		m := refPattern.FindStringSubmatch(ref)
		val, err := r.lookup(m[1], m[2])
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%w %s: %v", errSecret, ref, err)
			}
			return ""
		}
		found = append(found, val)
		return val
	})
	return out, found, firstErr
}

func (r *secretResolver) lookup(kind, arg string) (string, error) {
	switch kind {
	case "env":
		if arg == "" {
			return "", errors.New("empty variable name")
		}
		v, ok := r.lookupEnv(arg)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", arg)
		}
		return v, nil
	default: // file
		i := strings.LastIndexByte(arg, ':')
		if i <= 0 || i == len(arg)-1 {
			return "", errors.New("want ${file:PATH:KEY}")
		}
		path, key := arg[:i], arg[i+1:]
		props, err := r.properties(path)
		if err != nil {
			return "", err
		}
		v, ok := props[key]
		if !ok {
			return "", fmt.Errorf("key %q not found in %s", key, path)
		}
		return v, nil
	}
}

// properties reads a Java-properties-style file: key=value (or key: value)
// lines, # and ! comments. Errors name the file, never its content.
func (r *secretResolver) properties(path string) (map[string]string, error) {
	if p, ok := r.files[path]; ok {
		return p, nil
	}
	b, err := r.readFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("cannot read %s: %v", path, pe.Err)
		}
		return nil, fmt.Errorf("cannot read %s", path)
	}
	f, err := ini.LoadSources(ini.LoadOptions{
		IgnoreInlineComment:      true, // '#' inside a value is data, as in Java properties
		IgnoreContinuation:       false,
		SpaceBeforeInlineComment: true,
		KeyValueDelimiters:       "=:",
		PreserveSurroundedQuote:  true,
	}, stripBangComments(b))
	if err != nil {
		// ini's messages may quote the offending line: keep them out.
		return nil, fmt.Errorf("cannot parse %s as key=value lines", path)
	}
	props := map[string]string{}
	for _, k := range f.Section(ini.DefaultSection).Keys() {
		props[k.Name()] = k.Value()
	}
	if r.files == nil {
		r.files = map[string]map[string]string{}
	}
	r.files[path] = props
	return props, nil
}

// stripBangComments turns Java's "!" comment lines into blank lines, which
// ini does not know.
func stripBangComments(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "!") {
			lines[i] = ""
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// minSecretLen is the shortest value the scrubber hides: hiding "1" or
// "on" would mangle every log line, and such a value is no secret worth
// the name.
const minSecretLen = 4

// scrubber replaces known secret values in text with api.Redacted. It
// guards what the worker does not control: plugin log lines and error
// messages that might quote a resolved secret.
type scrubber struct {
	r *strings.Replacer
}

func newScrubber(secrets []string) *scrubber {
	s := slices.DeleteFunc(slices.Clone(secrets), func(v string) bool { return len(v) < minSecretLen })
	if len(s) == 0 {
		return &scrubber{}
	}
	// Longest first, so a secret that contains another is hidden whole.
	slices.SortFunc(s, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	s = slices.Compact(s)
	pairs := make([]string, 0, 2*len(s))
	for _, v := range s {
		pairs = append(pairs, v, api.Redacted)
	}
	return &scrubber{r: strings.NewReplacer(pairs...)}
}

func (s *scrubber) scrub(text string) string {
	if s == nil || s.r == nil {
		return text
	}
	return s.r.Replace(text)
}

// handler wraps h so every message and attribute is scrubbed.
func (s *scrubber) handler(h slog.Handler) slog.Handler {
	if s == nil || s.r == nil {
		return h
	}
	return &scrubHandler{h: h, s: s}
}

type scrubHandler struct {
	h slog.Handler
	s *scrubber
}

func (h *scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, h.s.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, nr)
}

func (h *scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = h.attr(a)
	}
	return &scrubHandler{h: h.h.WithAttrs(out), s: h.s}
}

func (h *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{h: h.h.WithGroup(name), s: h.s}
}

func (h *scrubHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.s.scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, ga := range g {
			out[i] = h.attr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		// Errors, Stringers, structs: render once; keep the original when
		// nothing needed hiding, so handlers still see the typed value.
		text := fmt.Sprint(v.Any())
		if s := h.s.scrub(text); s != text {
			return slog.String(a.Key, s)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
