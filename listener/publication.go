package listener

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zapbase/zapbase/pgerr"
)

// Execer runs one SQL statement: *pgxpool.Pool, *pgx.Conn and pgx.Tx
// satisfy it.
type Execer interface {
	Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error)
}

// EnsurePublication creates publication name on public.messages with
// publish = 'insert' when it is missing, adds the table to it and resets
// its publish option when someone changed them. The sidecar must not
// receive its own status UPDATEs, hence inserts only. On PostgreSQL 15 and
// later the publication carries only the id column: the listener reads
// nothing else, and every other column would cost the walsender an output
// function call per row (jsonb_out of the content, timestamptz_out…) and the
// listener a decode, for nothing. Earlier servers stream whole rows.
func EnsurePublication(ctx context.Context, db Execer, name string) error {
	if !publicationRE.MatchString(name) {
		return fmt.Errorf("ensure publication: invalid name %q", name)
	}
	if _, err := db.Exec(ctx, publicationSQL(name)); err != nil && !isDuplicate(err) {
		return fmt.Errorf("ensure publication %s: %w", name, err)
	}
	return nil
}

// publicationSQL is one idempotent statement, so it runs both through a
// pool and on a replication connection (simple query protocol only). name
// is validated by publicationRE, which makes the interpolation safe.
func publicationSQL(name string) string {
	return strings.ReplaceAll(`DO $zapbase$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = '@NAME@') THEN
    IF current_setting('server_version_num')::int >= 150000 THEN
      CREATE PUBLICATION "@NAME@" FOR TABLE public.messages (id) WITH (publish = 'insert');
    ELSE
      CREATE PUBLICATION "@NAME@" FOR TABLE public.messages WITH (publish = 'insert');
    END IF;
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables
                 WHERE pubname = '@NAME@' AND schemaname = 'public' AND tablename = 'messages') THEN
    ALTER PUBLICATION "@NAME@" ADD TABLE public.messages;
  END IF;
  IF current_setting('server_version_num')::int >= 150000 THEN
    -- Column lists (and pg_publication_rel.prattrs) exist from 15 on.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr
                     JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
                    WHERE p.pubname = '@NAME@' AND pr.prrelid = 'public.messages'::regclass
                      AND pr.prattrs IS NOT NULL
                      AND pr.prattrs::text = (SELECT a.attnum::text FROM pg_catalog.pg_attribute a
                                               WHERE a.attrelid = 'public.messages'::regclass AND a.attname = 'id')) THEN
      EXECUTE 'ALTER PUBLICATION "@NAME@" SET TABLE public.messages (id)';
    END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = '@NAME@'
             AND (NOT pubinsert OR pubupdate OR pubdelete OR pubtruncate)) THEN
    ALTER PUBLICATION "@NAME@" SET (publish = 'insert');
  END IF;
END
$zapbase$`, "@NAME@", name)
}

// SQLSTATEs the listener reacts to.
// SQLSTATEs the listener acts on.
const (
	sqlstateDuplicateObject = pgerrcode.DuplicateObject // slot or publication created concurrently
	sqlstateObjectInUse     = pgerrcode.ObjectInUse     // replication slot is active for another PID
	sqlstateUndefinedObject = pgerrcode.UndefinedObject // replication slot does not exist
)

func pgCode(err error) string { return pgerr.Code(err) }

func isDuplicate(err error) bool { return pgCode(err) == sqlstateDuplicateObject }

// slotInfo is the row of pg_replication_slots for the listener's slot.
type slotInfo struct {
	exists    bool
	plugin    string
	slotType  string
	database  string
	temporary bool
	active    bool
	walStatus string
	confirmed LSN
}

// readSlot reads the slot's row through the replication connection (simple
// protocol; text results). slot is validated by slotNameRE.
func readSlot(ctx context.Context, conn *pgconn.PgConn, slot string) (slotInfo, string, error) {
	sql := `SELECT coalesce(plugin, ''), slot_type, coalesce(database, ''), temporary::text, active::text,
	  coalesce(wal_status, ''), coalesce(confirmed_flush_lsn::text, '0/0'), current_database()
	FROM pg_catalog.pg_replication_slots WHERE slot_name = '` + slot + `'`
	res, err := conn.Exec(ctx, sql).ReadAll()
	if err == nil && len(res) == 0 {
		err = errors.New("no result")
	}
	if err != nil {
		return slotInfo{}, "", fmt.Errorf("read slot %s: %w", slot, err)
	}
	if len(res[0].Rows) == 0 {
		db, err := currentDatabase(ctx, conn)
		return slotInfo{}, db, err
	}
	r := res[0].Rows[0]
	info := slotInfo{
		exists:    true,
		plugin:    string(r[0]),
		slotType:  string(r[1]),
		database:  string(r[2]),
		temporary: string(r[3]) == "true",
		active:    string(r[4]) == "true",
		walStatus: string(r[5]),
	}
	lsn, err := parseLSN(string(r[6]))
	if err != nil {
		return slotInfo{}, "", fmt.Errorf("read slot %s: %w", slot, err)
	}
	info.confirmed = lsn
	return info, string(r[7]), nil
}

func currentDatabase(ctx context.Context, conn *pgconn.PgConn) (string, error) {
	res, err := conn.Exec(ctx, `SELECT current_database()`).ReadAll()
	if err != nil {
		return "", fmt.Errorf("current database: %w", err)
	}
	if len(res) == 0 || len(res[0].Rows) == 0 {
		return "", errors.New("current database: no row")
	}
	return string(res[0].Rows[0][0]), nil
}

// walLevel returns the server's wal_level.
func walLevel(ctx context.Context, conn *pgconn.PgConn) (string, error) {
	res, err := conn.Exec(ctx, `SHOW wal_level`).ReadAll()
	if err != nil {
		return "", fmt.Errorf("show wal_level: %w", err)
	}
	if len(res) == 0 || len(res[0].Rows) == 0 {
		return "", errors.New("show wal_level: no row")
	}
	return string(res[0].Rows[0][0]), nil
}
