// Package storetest is the conformance suite every offset.Store
// implementation passes: one test per documented rule of the interface
// (CRUD and revisions, ErrNotFound, offsets surviving DeleteConnector,
// generation fencing, operator overrides, status order and generations,
// defensive copies, ErrClosed, concurrent commits), plus RunDurable for
// stores that must keep their data across close and reopen.
//
// Use it from an implementation's tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) offset.Store { return offset.NewMemory() })
//	}
//
// open must return a new, empty, independent store on every call: the
// subtests run in parallel, each on its own store, and close it. Run the
// suite with -race; the concurrency tests are meant for it.
package storetest
