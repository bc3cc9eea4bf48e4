package dispatch

import (
	"errors"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase/pgerr"
)

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// isConnErr reports whether err is the database being unreachable (worth
// retrying the same statement later) rather than the statement failing
// (pgerr.IsConnLost). Anything else — a statement the server refused, a
// value pgx could not encode — is not, and a batch that hit it is split so
// one bad row cannot hold the others.
func isConnErr(err error) bool { return pgerr.IsConnLost(err) }

// isTxConflict reports a deadlock or serialization failure: the statement
// did nothing and may simply run again.
func isTxConflict(err error) bool {
	c := pgerr.Code(err)
	return c == pgerrcode.DeadlockDetected || c == pgerrcode.SerializationFailure
}
