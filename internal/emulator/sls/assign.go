package sls

import "sort"

// assign decides which live consumer of a group owns each shard. It is pure:
// the same inputs give the same plan, so it is tested exhaustively apart from
// the clock and the HTTP layer.
//
// The plan is balanced (owned counts differ by at most one) and sticky: a
// consumer keeps as many of its previous shards as its share allows, the
// larger shares go to the consumers that already hold the most, and only the
// shards left over move, lowest shard to the consumer with the smallest count
// (then name). prev may name consumers that are gone; they are ignored.
func assign(shards []int, consumers []string, prev map[int]string) map[int]string {
	plan := make(map[int]string, len(shards))
	if len(shards) == 0 || len(consumers) == 0 {
		return plan
	}
	shards = sortedInts(shards)
	consumers = append([]string(nil), consumers...)
	sort.Strings(consumers)

	kept := make(map[string][]int, len(consumers))
	live := make(map[string]bool, len(consumers))
	for _, c := range consumers {
		live[c] = true
	}
	for _, s := range shards {
		if c, ok := prev[s]; ok && live[c] {
			kept[c] = append(kept[c], s)
		}
	}

	// Shares: everyone gets base, the extra ones go to the biggest holders.
	base, extra := len(shards)/len(consumers), len(shards)%len(consumers)
	byHeld := append([]string(nil), consumers...)
	sort.SliceStable(byHeld, func(i, j int) bool { return len(kept[byHeld[i]]) > len(kept[byHeld[j]]) })
	share := make(map[string]int, len(consumers))
	for i, c := range byHeld {
		share[c] = base
		if i < extra {
			share[c]++
		}
	}

	count := make(map[string]int, len(consumers))
	for _, c := range consumers {
		ks := kept[c]
		if len(ks) > share[c] {
			ks = ks[:share[c]]
		}
		for _, s := range ks {
			plan[s] = c
		}
		count[c] = len(ks)
	}
	for _, s := range shards {
		if _, ok := plan[s]; ok {
			continue
		}
		best := ""
		for _, c := range consumers {
			if count[c] >= share[c] {
				continue
			}
			if best == "" || count[c] < count[best] {
				best = c
			}
		}
		plan[s] = best
		count[best]++
	}
	return plan
}

func sortedInts(in []int) []int {
	out := append([]int(nil), in...)
	sort.Ints(out)
	return out
}
