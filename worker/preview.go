package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/api"
	"github.com/ferryhq/ferry/runtime"
)

// MaxPreviewEvents bounds the events of one preview: a preview is a tool
// for people, run on the REST goroutine, and must stay cheap.
const MaxPreviewEvents = 1000

func previewTransforms(ctx context.Context, reg Registry, config map[string]string, events []api.Event) ([]PreviewResult, error) {
	if len(events) > MaxPreviewEvents {
		return nil, fmt.Errorf("%w: a preview takes at most %d events, got %d", ErrBadRequest, MaxPreviewEvents, len(events))
	}
	v, steps := validateChain(reg, config)
	if err := v.err(); err != nil {
		return nil, err
	}
	sc := newScrubber(v.literalSecrets(config))
	chain, err := buildChain(reg, steps)
	if err != nil {
		// The constructors saw exactly the validated config: its fault.
		return nil, fmt.Errorf("%w: %s", ErrBadRequest, sc.scrub(err.Error()))
	}
	defer closeTransforms(chain)

	out := make([]PreviewResult, len(events))
	for i := range events {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i] = previewOne(chain, events[i], sc)
	}
	return out, nil
}

// previewOne applies chain to one event.
func previewOne(chain []runtime.NamedTransform, ev api.Event, sc *scrubber) PreviewResult {
	res := PreviewResult{Events: []json.RawMessage{}}
	r := api.Record{Event: ev}
	for _, step := range chain {
		keep, err := applySafely(step.Transform, &r)
		switch {
		case err != nil:
			res.Error = sc.scrub(fmt.Sprintf("transform %q: %v", step.Name, err))
			return res
		case !keep:
			res.Dropped, res.DroppedBy = true, step.Name
			return res
		}
	}
	b, err := encodePreviewEvent(&r.Event)
	if err != nil {
		res.Error = sc.scrub("output event: " + err.Error())
		return res
	}
	// A step may copy a secret setting into the event; the answer must not
	// show it. Where hiding it would break the JSON, the event is withheld.
	if hidden := sc.scrub(string(b)); hidden != string(b) {
		if !json.Valid([]byte(hidden)) {
			res.Error = "output event withheld: it contains a secret value of the chain's config"
			return res
		}
		b = json.RawMessage(hidden)
	}
	res.Events = append(res.Events, b)
	return res
}

// applySafely turns a transform's panic into an error for that event, as
// the runtime does.
func applySafely(tr api.Transform, r *api.Record) (keep bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			keep, err = false, fmt.Errorf("transform panicked: %v", p)
		}
	}()
	return tr.Apply(r)
}

// ceAttributes are the CloudEvents context attributes in the order
// api.Event.AppendJSON writes them.
var ceAttributes = []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema"}

// encodePreviewEvent encodes ev in structured mode as the sinks do, but
// with its extensions in name order: AppendJSON follows map order, and a
// preview of the same input must always read the same.
func encodePreviewEvent(ev *api.Event) (json.RawMessage, error) {
	b, err := ev.AppendJSON(nil)
	if err != nil || len(ev.Extensions) < 2 {
		return b, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	keys := slices.Clone(ceAttributes)
	keys = append(keys, slices.Sorted(maps.Keys(ev.Extensions))...)
	keys = append(keys, "data", "data_base64")
	out := make([]byte, 0, len(b))
	out = append(out, '{')
	for _, k := range keys {
		v, ok := fields[k]
		if !ok {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		// Attribute and extension names are lower-case letters and digits:
		// nothing to escape.
		out = append(out, '"')
		out = append(out, k...)
		out = append(out, '"', ':')
		out = append(out, v...)
	}
	return append(out, '}'), nil
}

// validateChain checks the transform chain of config with the connector
// validation's own code: the same field errors under the same full keys.
// Other keys of a connector config (name, source.*, sink.*, …) are
// ignored, so a whole connector file can be previewed; anything else is
// an unknown key. Secret references are refused: a preview answers with
// the transformed events, and resolving ${env:…} or ${file:…} there would
// hand any REST client the worker's secrets.
func validateChain(reg Registry, config map[string]string) (*validation, []transformStep) {
	v := &validation{}
	full := envelopeSpec(0)
	chainSpec := api.Spec{}
	for _, f := range full {
		if f.Name == keyTransforms || f.Name == keyPredicates {
			chainSpec = append(chainSpec, f)
		}
	}
	env := section{group: groupCommon, spec: chainSpec, raw: map[string]string{}}
	ch := newChainKeys(config)
	var unknown []api.FieldError
	for _, k := range slices.Sorted(maps.Keys(config)) {
		val := config[k]
		owned := ch.owns(k) || k == keyTransforms || k == keyPredicates
		if owned && refPattern.MatchString(val) {
			unknown = append(unknown, api.FieldError{Field: k, Message: "secret references are not resolved in a preview; use a sample value"})
		}
		switch {
		case ch.owns(k):
			unknown = ch.file(k, val, unknown)
		case k == keyTransforms || k == keyPredicates:
			env.raw[k] = val
		case isConnectorKey(full, k):
			// Part of the connector, not of its chain.
		default:
			unknown = append(unknown, api.FieldError{Field: k, Message: "unknown configuration key; a preview takes transforms, predicates and their transforms.<alias>.<field> and predicates.<alias>.<field> settings"})
		}
	}
	v.parse(&env)
	steps := v.chain(reg, ch)
	v.errs = append(v.errs, unknown...)
	if len(v.errs) > 0 {
		v.scrubErrs(config)
	}
	return v, steps
}

// isConnectorKey reports whether k belongs to a connector config outside
// its chain: an envelope key or a plugin's setting.
func isConnectorKey(envelope api.Spec, k string) bool {
	if _, ok := envelope.Lookup(k); ok {
		return true
	}
	for _, p := range []string{prefixSource, prefixSink, prefixDLQ} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
