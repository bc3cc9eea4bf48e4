package whatsmeow

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/types"

	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

func TestMain(m *testing.M) { devdbtest.MainLeakChecked(m) }

func TestStoreLivesInPrivateSchema(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	st, err := OpenStore(ctx, f.url, nil)
	require.NoError(t, err)
	defer st.Close()

	// The tables are in schema whatsmeow, and nowhere else.
	var inSchema, elsewhere int
	require.NoError(t, f.pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE table_schema = 'whatsmeow'), count(*) FILTER (WHERE table_schema <> 'whatsmeow')
  FROM information_schema.tables WHERE table_name LIKE 'whatsmeow_%'`).Scan(&inSchema, &elsewhere))
	require.GreaterOrEqual(t, inSchema, 15)
	require.Zero(t, elsewhere)

	// A device saved and reloaded keeps its keys.
	dev := st.container.NewDevice()
	jid := types.NewJID("5511999990001", types.DefaultUserServer)
	jid.Device = 12
	dev.ID = &jid
	dev.PushName = "Acme"
	dev.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte("details"), AccountSignature: make([]byte, 64),
		AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
	require.NoError(t, st.container.PutDevice(ctx, dev))

	reopened, err := OpenStore(ctx, f.url, nil) // second start: upgrade is a no-op
	require.NoError(t, err)
	defer reopened.Close()
	got, err := reopened.container.GetDevice(ctx, jid)
	require.NoError(t, err)
	require.NotNil(t, got)
	require.Equal(t, dev.RegistrationID, got.RegistrationID)
	require.Equal(t, dev.IdentityKey.Priv, got.IdentityKey.Priv)
	require.Equal(t, "Acme", got.PushName)

	c, err := reopened.NewClient(ctx, jid.String())
	require.NoError(t, err)
	pn, _ := c.OwnID()
	require.Equal(t, "5511999990001", pn.User)
	_, err = reopened.NewClient(ctx, "5511000000000:3@s.whatsapp.net")
	require.ErrorIs(t, err, ErrDeviceNotFound)

	// The API roles cannot read the Signal keys.
	for _, role := range []string{"authenticated", "anon"} {
		tx, err := f.pool.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{role}.Sanitize())
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `SELECT * FROM whatsmeow.whatsmeow_device`)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, role)
		require.Equal(t, "42501", pgErr.Code, role) // insufficient_privilege
		require.NoError(t, tx.Rollback(ctx))
	}
}
