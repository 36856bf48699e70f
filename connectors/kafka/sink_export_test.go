package kafka

// JavaPartition is the hash partitioner, for black-box tests
// (TestHashPartitionIsJavas pins it to Kafka's Java producer).
var JavaPartition = hashPartition
