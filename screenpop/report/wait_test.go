package report

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestNthIsTheSortedSlicesElement checks the selection the wait's 90th
// percentile is read with against a sort: random waits, many equal, in
// order and in reverse.
func TestNthIsTheSortedSlicesElement(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 10, 33, 34, 100, 1000, 5000} {
		for _, spread := range []int{1, 3, 50, 1 << 30} {
			for range 20 {
				xs := make([]int32, n)
				for i := range xs {
					xs[i] = int32(r.IntN(spread))
				}
				sorted := slices.Clone(xs)
				slices.Sort(sorted)
				reversed := slices.Clone(sorted)
				slices.Reverse(reversed)
				k := r.IntN(n)
				for _, in := range [][]int32{xs, sorted, reversed} {
					if got := nth(slices.Clone(in), k); got != sorted[k] {
						t.Fatalf("nth of %d values (spread %d), k %d: %v, want %v", n, spread, k, got, sorted[k])
					}
				}
			}
		}
	}
}
