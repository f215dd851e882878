package report

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestServiceLevelLeavesUncertainWaitsOut(t *testing.T) {
	// Ten calls: four answered, one of them with a wait the daemon did not
	// see (its wait is not among the waits), six lost.
	c := Counts{Total: 10, Answered: 4}
	got := serviceLevel([]int32{5000, 20_000, 20_001}, c, 20*time.Second)
	want := ServiceLevel{ThresholdSeconds: 20, Calls: 9, Within: 2, Uncertain: 1, Rate: ratio(2, 9)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("service level (-want +got):\n%s", diff)
	}
}

// TestCallbackMedian checks the median of the call backs' delays, selected
// rather than sorted: the middle one of an odd number, the mean of the
// middle two of an even one, whatever order the delays come in.
func TestCallbackMedian(t *testing.T) {
	for _, tc := range []struct {
		name   string
		delays []float64
		want   float64
	}{
		{"one delay is its own median", []float64{42}, 42},
		{"an odd number gives the middle one", []float64{900, 60, 86400, 3600, 30}, 900},
		{"an even number gives the mean of the middle two", []float64{7200, 60, 1800, 90000}, 4500},
		{"repeated delays count each time", []float64{60, 60, 60, 3600}, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			delays := make([]float64, 0, 101*len(tc.delays))
			// Many copies of each, an odd number, so that the selection
			// partitions and an odd number stays odd.
			for range 101 {
				delays = append(delays, tc.delays...)
			}
			cb := &callbacks{missed: len(delays), delays: delays}
			if got := cb.figures().MedianSeconds; got != tc.want {
				t.Errorf("the median of %v is %v, want %v", tc.delays, got, tc.want)
			}
		})
	}
}
