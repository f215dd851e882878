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
