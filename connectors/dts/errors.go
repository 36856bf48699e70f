package dts

import "errors"

var (
	// ErrMalformed means a record value is not a DTS Record the source can
	// decode (not Avro of DTS's schema, or images that do not match the
	// fields). The task fails: skipping it would lose a change.
	ErrMalformed = errors.New("dts: malformed record")

	// ErrGroupInUse means another client is a member of the consumer
	// group (source.sid). DTS keeps one checkpoint per group, so two
	// readers would overwrite each other's; the source refuses to start.
	ErrGroupInUse = errors.New("dts: consumer group in use by another client")

	// ErrReplaced means a newer task of this connector (a task restarted
	// or moved to another worker while this one still ran) joined the
	// consumer group: this one leaves the group to it and stops.
	ErrReplaced = errors.New("dts: replaced by a newer task of this connector")

	// ErrBadPosition means a stored position is not one this source
	// wrote (an operator's offset alter, say).
	ErrBadPosition = errors.New("dts: bad stored position")
)
