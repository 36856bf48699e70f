// Package cluster is the membership and assignment core of Ferry's cluster
// mode: who is in the cluster, who leads it, and which worker runs which
// task. The cluster herder drives it; this package does no storage and
// starts no task.
//
// # Assignment
//
// Assign is a pure function (no I/O, clock or goroutines) from the live
// workers, the full task list and the previous Assignment to the next one,
// with the moves between them. It is sticky and incremental: only the
// tasks of departed and draining workers and the surplus of overloaded
// workers move, always the least possible number of them; a balanced
// cluster moves nothing; every eligible worker ends with ⌊n/k⌋ or ⌈n/k⌉
// tasks; a connector's tasks spread over workers where that costs no extra
// move. The same input gives the same output whatever its order.
//
// Each Assignment has a Generation, the previous one plus one when some
// task changed place, and each placed task records the generation that put
// it on its worker (Slot.Since). Fencing builds on it: a run of a task
// commits offsets with the assignment generation current when that run
// started (never lower than its Since). A task moved off a worker is
// placed at a higher generation than the zombie that may still run it
// there, so the store refuses the zombie's later commits. A run restarted
// on the same worker (config change, restart) takes the current
// generation, so it is never fenced by a commit an earlier owner of one of
// its partitions made; when a connector's task configs change, all its
// tasks must restart for that reason.
//
// Leader picks the leader from the live workers (oldest start, ties by ID,
// never a draining worker unless all are). InGrace tells which departed
// workers are still inside a grace period; the caller passes them to
// Assign as Away so their tasks wait for them.
//
// # Membership
//
// Membership runs one worker's gossip membership on hashicorp/memberlist:
// node metadata (worker ID, REST URL, version, start time, draining flag),
// failure detection tuned to declare a killed worker dead in about 2–3 s on
// a LAN, graceful leave that marks the worker draining first, periodic
// re-join of the seeds to heal partitions, optional gossip encryption with
// a keyring that SetKeys rotates without a restart.
// Members lists every member with its state; Changes signals that the list
// changed. LiveWorkers and Departures turn the member list into the input
// of Leader, InGrace and Assign.
//
// A herder's loop is: on every Changes signal (and when the InGrace timer
// fires), read Members, compute the leader; the leader runs Assign with
// the task list from the config store and the last published Assignment,
// and publishes the result if Plan.Changed; every worker stops the tasks
// the published assignment no longer gives it and starts the new ones with
// their Slot.Since as generation.
package cluster
