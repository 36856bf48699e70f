package rocketmq

import "errors"

var (
	// ErrConfig means Config.Validate refused the configuration.
	ErrConfig = errors.New("invalid rocketmq store config")
	// ErrTopic means a store topic could not be created or has a shape the
	// store cannot use (the config topic must have exactly one queue).
	ErrTopic = errors.New("rocketmq store topic")
	// ErrRecord means a record read from a store topic could not be
	// decoded. The reader logs and skips such records: a record written by
	// a newer, incompatible Ferry must not stop older workers.
	ErrRecord = errors.New("undecodable store record")
	// ErrBroker is a failed exchange with the name server or the broker;
	// callers retry it with backoff.
	ErrBroker = errors.New("rocketmq broker")

	// ErrLostRecords means Open found that the broker deleted store
	// records (by age) that no snapshot covers: the state would be
	// incomplete, so the store refuses to start unless
	// Config.AcceptLostRecords is set. An operator must act; retrying
	// does not help.
	ErrLostRecords = errors.New("rocketmq store records lost")

	// ErrConflict means a PutMeta lost its compare-and-set: the register's
	// version was not the expected one (another writer came first).
	ErrConflict = errors.New("register version conflict")

	// errInvalid reports a call no store can honour (an empty connector
	// name, a task below offset.ConnectorTask): a caller bug.
	errInvalid = errors.New("invalid argument")
)
