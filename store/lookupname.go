package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/screenpop/screenpop/screenpop"
)

// A call's lookup name (Call.LookupName: the name screenpop set on the
// caller ID in Stasis mode) is written with the call, in the same
// transaction, by a statement of its own: most calls have none.

const saveLookupName = `UPDATE calls SET lookup_name = %s WHERE call_id = %s AND lookup_name = ''`

func pgSaveLookupNames(ctx context.Context, tx pgx.Tx, calls []screenpop.Call) error {
	for _, c := range calls {
		if c.LookupName == "" {
			continue
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(saveLookupName, "$2", "$1"), c.ID, c.LookupName); err != nil {
			return fmt.Errorf("save lookup name of call %s: %w", c.ID, err)
		}
	}
	return nil
}

func sqliteSaveLookupNames(ctx context.Context, tx *sql.Tx, calls []screenpop.Call) error {
	for _, c := range calls {
		if c.LookupName == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(saveLookupName, "?2", "?1"), c.ID, c.LookupName); err != nil {
			return fmt.Errorf("save lookup name of call %s: %w", c.ID, err)
		}
	}
	return nil
}
