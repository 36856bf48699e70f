package kit

import "hash/fnv"

// Owner returns the task, in [0, tasks), that reads partition number
// partition of stream (a Kafka topic, a RocketMQ topic's queue, an SLS
// logstore's shard) when a source's partitions are split over tasks
// tasks. It is a pure function of its three arguments, so every task
// evaluates it on its own view of the system's metadata and they agree
// without talking to each other:
//
//   - each partition has exactly one owner, so nothing is read twice or
//     never, whatever partitions the tasks' views hold;
//   - a partition added later (or a stream that starts matching a
//     pattern) is picked up by its owner at that task's next metadata
//     refresh, with no re-planning and no other partition moving;
//   - a stream's partitions go round-robin over the tasks, starting at a
//     task chosen by the stream's name, so one stream of n partitions
//     gives each task n/tasks of them (±1) and many one-partition
//     streams spread over the tasks instead of all landing on task 0.
//
// Only a change of tasks moves partitions; the engine restarts every task
// then, and each resumes the partitions it now owns from the offset
// store, which holds every partition's position under the connector.
//
// tasks below 1 counts as 1; partition must not be negative.
func Owner(stream string, partition, tasks int) int {
	if tasks <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(stream))
	return int((uint64(h.Sum32()) + uint64(partition)) % uint64(tasks))
}

// Owns reports whether task (of tasks) owns the partition: Owner(stream,
// partition, tasks) == task.
func Owns(task, tasks int, stream string, partition int) bool {
	return Owner(stream, partition, tasks) == task
}
