package smt

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry/api"
)

// castTypes are the target types, Kafka Connect's primitive schema types.
var castTypes = []string{"int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string"}

// Cast converts fields, or the whole data, to another primitive type
// (Kafka's Cast$Value).
var Cast = api.TransformPlugin{
	Name:    "cast",
	Summary: "Cast fields or the whole data to int8/16/32/64, float32/64, boolean or string (Kafka Cast).",
	Spec: api.Spec{
		{Name: "spec", Type: api.TypeList, Required: true, Check: checkCastSpec,
			Description: "field:type pairs (a:int64,b:string,c:boolean,d:float64; dots address nested fields), or one type alone to cast the whole data. Types: " +
				strings.Join(castTypes, ", ") + "."},
	},
	New: func(c api.Config) (api.Transform, error) {
		rules, whole, err := parseCastSpec(c.String("spec"))
		if err != nil {
			return nil, configError("spec", err.Error())
		}
		return &cast{codec: newCodec(), rules: rules, whole: whole}, nil
	},
}

type castRule struct{ field, typ string }

func checkCastSpec(v string) error {
	_, _, err := parseCastSpec(v)
	return err
}

func parseCastSpec(v string) (rules []castRule, whole string, err error) {
	items := splitList(v)
	for _, it := range items {
		field, typ, ok := strings.Cut(it, ":")
		if !ok {
			if len(items) > 1 {
				return nil, "", fmt.Errorf("a whole-data type (%q) cannot be combined with field casts", it)
			}
			typ = it
		}
		field, typ = strings.TrimSpace(field), strings.TrimSpace(typ)
		if !slices.Contains(castTypes, typ) {
			return nil, "", fmt.Errorf("unknown type %q in %q (one of %s)", typ, it, strings.Join(castTypes, ", "))
		}
		if !ok {
			return nil, typ, nil
		}
		if field == "" {
			return nil, "", fmt.Errorf("empty field name in %q", it)
		}
		rules = append(rules, castRule{field, typ})
	}
	if len(rules) == 0 {
		return nil, "", errors.New("is empty")
	}
	return rules, "", nil
}

type cast struct {
	*codec
	rules []castRule
	whole string
}

// Apply casts. Missing fields and null values are left as they are (Kafka
// casts null to null); null data passes through.
func (t *cast) Apply(r *api.Record) (bool, error) {
	v, err := decode(&r.Event)
	if err != nil || v == nil {
		return err == nil, recordError(Cast.Name, "", err)
	}
	if t.whole != "" {
		out, err := t.castValue(expand(v), t.whole)
		if err != nil {
			return false, recordError(Cast.Name, "", err)
		}
		v = out
	} else {
		obj, err := asObject(v)
		if err != nil {
			return false, recordError(Cast.Name, "", err)
		}
		for _, rule := range t.rules {
			p, i, ok := lookup(obj, rule.field)
			if !ok {
				continue
			}
			out, err := t.castValue(p.vals[i], rule.typ)
			if err != nil {
				return false, recordError(Cast.Name, rule.field, err)
			}
			p.vals[i] = out
		}
	}
	if err := t.setData(&r.Event, v); err != nil {
		return false, recordError(Cast.Name, "", err)
	}
	return true, nil
}

func (t *cast) castValue(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "string":
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		default:
			// Kafka refuses to cast structures; their JSON text is what a
			// user casting one to string wants.
			b, err := t.marshal(x)
			return string(b), err
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case json.Number:
			f, err := strconv.ParseFloat(x.String(), 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return nil, fmt.Errorf("%w: %s to boolean", ErrConvert, x)
			}
			return f != 0, nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return nil, fmt.Errorf("%w: %q to boolean", ErrConvert, x)
			}
			return b, nil
		}
	case "float32", "float64":
		bits := 64
		if typ == "float32" {
			bits = 32
		}
		var f float64
		switch x := v.(type) {
		case bool:
			f = boolNumber(x)
		case json.Number, string:
			s := strings.TrimSpace(fmt.Sprint(x))
			var err error
			f, err = strconv.ParseFloat(s, bits)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%w: %q to %s", ErrConvert, s, typ)
			}
		default:
			return nil, fmt.Errorf("%w: %s to %s", ErrConvert, kindOf(v), typ)
		}
		return json.Number(formatFloat(f, bits)), nil
	default: // int8 … int64
		bits, _ := strconv.Atoi(strings.TrimPrefix(typ, "int"))
		var n int64
		switch x := v.(type) {
		case bool:
			n = int64(boolNumber(x))
		case json.Number, string:
			s := strings.TrimSpace(fmt.Sprint(x))
			var err error
			if n, err = parseInteger(s); err != nil {
				return nil, fmt.Errorf("%w: %q to %s: %v", ErrConvert, s, typ, err)
			}
		default:
			return nil, fmt.Errorf("%w: %s to %s", ErrConvert, kindOf(v), typ)
		}
		if lim := int64(1) << (bits - 1); bits < 64 && (n < -lim || n >= lim) {
			return nil, fmt.Errorf("%w: %d overflows %s", ErrConvert, n, typ)
		}
		return json.Number(strconv.FormatInt(n, 10)), nil
	}
	return nil, fmt.Errorf("%w: %s to %s", ErrConvert, kindOf(v), typ)
}

// parseInteger parses s as an int64. Decimals truncate toward zero, as
// Java's Number.longValue does in Kafka's Cast; values outside int64 are
// an error rather than a silent wrap.
func parseInteger(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return n, nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, errors.New("overflows int64")
	}
	f, ferr := strconv.ParseFloat(s, 64)
	if ferr != nil || math.IsNaN(f) {
		return 0, errors.New("not a number")
	}
	f = math.Trunc(f)
	if f < -(1<<63) || f >= 1<<63 {
		return 0, errors.New("overflows int64")
	}
	return int64(f), nil
}

func boolNumber(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// formatFloat renders f the shortest way that reads back as the same
// float of that size.
func formatFloat(f float64, bits int) string {
	return strconv.FormatFloat(f, 'g', -1, bits)
}
