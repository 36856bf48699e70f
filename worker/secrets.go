package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/ferryhq/ferry/api"
)

// refPattern matches a secret reference anywhere in a value:
// ${env:NAME}, ${file:PATH:KEY} (a key of a properties file) or
// ${dir:PATH:KEY} (the file KEY in directory PATH, as a Kubernetes secret
// volume holds it). PATH may contain ':' (the last one separates the key).
var refPattern = regexp.MustCompile(`\$\{(env|file|dir):([^}]*)\}`)

// maxSecretFile bounds what one ${file:} or ${dir:} reference reads.
const maxSecretFile = 1 << 20

// SecretSources is the worker's allow-list of what secret references may
// read. Empty (the default), references resolve only in fields a plugin
// declares secret, and may name any variable or file the worker can read.
// Set, it binds every reference: only the listed variables and paths
// resolve, and then in any field (a non-secret field may name a file the
// operator put on the list).
type SecretSources struct {
	// EnvPrefixes are prefixes of environment variable names ("FERRY_").
	EnvPrefixes []string
	// Paths are files, and directories whose every file, that ${file:}
	// and ${dir:} may read. Symbolic links are followed before the check.
	Paths []string
}

func (s SecretSources) restricted() bool { return len(s.EnvPrefixes)+len(s.Paths) > 0 }

// allows reports whether the list allows a reference of kind to arg. For
// files it checks the path as written; the resolver checks it again with
// links followed.
func (s SecretSources) allows(kind, arg string) bool {
	if kind == "env" {
		return slices.ContainsFunc(s.EnvPrefixes, func(p string) bool { return strings.HasPrefix(arg, p) })
	}
	path, key, ok := cutKey(arg)
	if !ok {
		return false
	}
	if kind == "dir" {
		path = filepath.Join(path, key)
	}
	return s.allowsPath(path)
}

func (s SecretSources) allowsPath(path string) bool {
	if !filepath.IsAbs(path) {
		return false
	}
	path = filepath.Clean(path)
	return slices.ContainsFunc(s.Paths, func(p string) bool {
		p = filepath.Clean(p)
		return path == p || strings.HasPrefix(path, strings.TrimSuffix(p, string(filepath.Separator))+string(filepath.Separator))
	})
}

// cutKey splits PATH:KEY at the last ':'.
func cutKey(arg string) (path, key string, ok bool) {
	i := strings.LastIndexByte(arg, ':')
	if i <= 0 || i == len(arg)-1 {
		return "", "", false
	}
	return arg[:i], arg[i+1:], true
}

// checkReferences records a field error for every value that holds a
// reference where none may be: outside a secret field (unless the
// allow-list names its target), or to a target the allow-list leaves out.
// Without this, a connector could copy a file or a variable of the host
// into its events and out through its sink.
func (v *validation) checkReferences(raw map[string]string, sources SecretSources) {
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		val := raw[k]
		if !api.HasReference(val) {
			continue
		}
		for _, m := range refPattern.FindAllStringSubmatch(val, -1) {
			switch {
			case sources.restricted() && !sources.allows(m[1], m[2]):
				v.fail(k, fmt.Sprintf("%s is outside the secret sources this worker allows (--secret-allow-env, --secret-allow-path)", m[0]))
			case !sources.restricted() && !v.isSecret(k):
				v.fail(k, fmt.Sprintf("%s: secret references resolve only in secret fields, and this field is not one", m[0]))
			default:
				continue
			}
			break
		}
	}
}

// errSecret marks a reference that could not be resolved. Its message
// names the reference, never a value.
var errSecret = errors.New("cannot resolve secret reference")

// secretResolver resolves references. Lookups are injectable for tests;
// each properties file is read once per resolver (one task start).
type secretResolver struct {
	lookupEnv func(string) (string, bool)
	readFile  func(string) ([]byte, error)
	files     map[string]map[string]string
	// sources, when restricted, is checked again at resolution, with
	// symbolic links followed.
	sources SecretSources
}

func newSecretResolver(sources SecretSources) *secretResolver {
	return &secretResolver{lookupEnv: os.LookupEnv, readFile: readSecretFile, sources: sources}
}

// readSecretFile reads at most maxSecretFile bytes of path.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("larger than %d bytes", maxSecretFile)}
	}
	return b, nil
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
	if r.sources.restricted() && !r.sources.allows(kind, arg) {
		return "", errors.New("outside the secret sources this worker allows")
	}
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
	case "dir":
		dir, key, ok := cutKey(arg)
		if !ok || key == "." || key == ".." || strings.ContainsAny(key, `/\`) {
			return "", errors.New("want ${dir:DIRECTORY:KEY}, KEY a file name in DIRECTORY")
		}
		path, err := r.realPath(filepath.Join(dir, key))
		if err != nil {
			return "", err
		}
		b, err := r.readFile(path)
		if err != nil {
			return "", fileError(filepath.Join(dir, key), err)
		}
		return string(b), nil
	default: // file
		path, key, ok := cutKey(arg)
		if !ok {
			return "", errors.New("want ${file:PATH:KEY}")
		}
		real, err := r.realPath(path)
		if err != nil {
			return "", err
		}
		props, err := r.properties(real)
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

// realPath follows symbolic links when the allow-list binds references,
// so a link inside an allowed directory cannot lead out of it.
func (r *secretResolver) realPath(path string) (string, error) {
	if !r.sources.restricted() {
		return path, nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fileError(path, err)
	}
	if !r.sources.allowsPath(real) {
		return "", fmt.Errorf("%s leads outside the secret sources this worker allows", path)
	}
	return real, nil
}

// fileError names the file and the reason, never the content.
func fileError(path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot read %s: %v", path, pe.Err)
	}
	return fmt.Errorf("cannot read %s", path)
}

// properties reads a Java-properties-style file: key=value (or key: value)
// lines, # and ! comments. Errors name the file, never its content.
func (r *secretResolver) properties(path string) (map[string]string, error) {
	if p, ok := r.files[path]; ok {
		return p, nil
	}
	b, err := r.readFile(path)
	if err != nil {
		return nil, fileError(path, err)
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
