package smt

import (
	"errors"
	"fmt"

	"github.com/ferryhq/ferry/api"
)

// Record errors. Every SMT returns them wrapped in api.Fatal with the SMT's
// name and the field concerned, so the connector's errors.tolerance decides
// whether the record is skipped, dead-lettered or fails the task; retrying
// the same record cannot succeed.
var (
	// ErrNotJSON: the event's data is not valid JSON or its
	// datacontenttype names another format.
	ErrNotJSON = errors.New("data is not JSON")
	// ErrNotObject: the SMT needs an object where the data (or a field)
	// holds another JSON type.
	ErrNotObject = errors.New("not a JSON object")
	// ErrMissingField: a field the SMT requires is absent from the data.
	ErrMissingField = errors.New("field is missing")
	// ErrConvert: a value cannot be converted as configured (cast, mask,
	// timestamp conversion).
	ErrConvert = errors.New("cannot convert value")
	// ErrConflict: the output would hold one key twice (flatten).
	ErrConflict = errors.New("conflicting keys")
)

// recordError wraps err for one record, naming the SMT and, when set, the
// field. A nil err stays nil.
func recordError(smt, field string, err error) error {
	if err == nil {
		return nil
	}
	if field == "" {
		return api.Fatal(fmt.Errorf("%s: %w", smt, err))
	}
	return api.Fatal(fmt.Errorf("%s: field %q: %w", smt, field, err))
}

// configError reports a setting that is invalid in combination with
// others, in the same shape Spec.Parse reports single-field problems, so
// the engine can prefix the field with the transform's key.
func configError(field, msg string) error {
	return &api.ValidationError{Fields: []api.FieldError{{Field: field, Message: msg}}}
}
