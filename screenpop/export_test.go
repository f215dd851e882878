package screenpop

import (
	"fmt"
	"reflect"
)

// ChangedCallsMarked checks, after an event, that every call the tracker
// did not mark changed since its last State is what that State copied:
// a call changed unmarked would be saved stale (its old JSON reused).
func ChangedCallsMarked(t *Tracker) error {
	for id, c := range t.calls {
		if c.saved == nil || c.changed {
			continue
		}
		now, then := saveCall(c), *c.saved
		then.copy = 0
		if !reflect.DeepEqual(now, then) {
			return fmt.Errorf("call %s changed without being marked: saved %+v, now %+v", id, then, now)
		}
	}
	return nil
}
