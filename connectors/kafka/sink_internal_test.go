package kafka

import "testing"

// TestHashPartitionIsJavas: keys land where Kafka's Java producer puts
// them: toPositive(murmur2(key)) % partitions, with the murmur2 values of
// Kafka's own UtilsTest.testMurmur2.
func TestHashPartitionIsJavas(t *testing.T) {
	t.Parallel()
	for key, javaHash := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		for _, n := range []int{1, 2, 3, 6, 7, 12, 100, 1024, 5000} {
			want := int(uint32(javaHash)&0x7fffffff) % n
			if got := hashPartition([]byte(key), n); got != want {
				t.Errorf("key %q over %d partitions: %d, Java's producer: %d", key, n, got, want)
			}
		}
	}
}
