package store

import (
	"context"
	"fmt"

	"github.com/screenpop/screenpop/screenpop"
)

// A call's lookup name (Call.LookupName: the name screenpop set on the
// caller ID in Stasis mode) is written with the call, in the same
// transaction, by a statement of its own: most calls have none.

func saveLookupNames(ctx context.Context, q querier, calls []screenpop.Call) error {
	for _, c := range calls {
		if c.LookupName == "" {
			continue
		}
		if _, err := q.exec(ctx, `UPDATE calls SET lookup_name = $3 WHERE pbx = $1 AND call_id = $2 AND lookup_name = ''`,
			c.PBX, c.ID, c.LookupName); err != nil {
			return fmt.Errorf("save lookup name of call %s: %w", c.ID, err)
		}
	}
	return nil
}
