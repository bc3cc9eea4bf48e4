package whatsmeow

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/zapbase/zapbase/providers"
)

func TestPairingWithQRCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.addSession(t, ownPN, "")
	devices := &fakeDevices{}
	c := devices.nextNew()
	sink := newSignalSink(f.pool)
	announced := make(chan PairingCode, 16)
	p := f.provider(t, devices, sink, func(cfg *Config) { cfg.OnPairingFunc = func(pc PairingCode) { announced <- pc } })

	c.qr <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: "2@first"}
	st, err := p.Initialize(context.Background(), providers.InitializeParams{TenantID: f.tenant, SessionID: id})
	// zapbase dev sees each code (to print it in the terminal).
	require.Equal(t, PairingCode{SessionID: id, TenantID: f.tenant, PhoneNumber: ownPN, QRCode: "2@first"}, <-announced)
	require.NoError(t, err)
	require.Equal(t, providers.StatePairing, st.State)
	require.Equal(t, "2@first", st.QRCode)
	require.Equal(t, "2@first", f.sessionRow(t, id).QRCode)
	require.True(t, p.Owns(id))

	// Codes rotate: each one reaches the row (and Status, on any replica).
	c.qr <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: "2@second"}
	for sink.waitState(t, providers.StatePairing).QRCode != "2@second" {
	}
	got, err := p.Status(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, "2@second", got.QRCode)

	// Nobody scans: a clear final state, no QR left, lease given up.
	c.qr <- whatsmeow.QRChannelTimeout
	close(c.qr)
	sink.waitState(t, providers.StatePairingFailed)
	r := f.sessionRow(t, id)
	require.Equal(t, providers.StatePairingFailed, r.State)
	require.Empty(t, r.QRCode)
	require.Contains(t, r.Reason, "QR code expirou")
	require.False(t, c.IsConnected())
	require.Eventually(t, func() bool { return !p.Owns(id) }, 30*time.Second, 10*time.Millisecond, "the lease is given up")
}

func TestPairingSuccessAndPhoneCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.addSession(t, ownPN, "")
	devices := &fakeDevices{}
	c := devices.nextNew()
	c.pairCode = "ABCD-EFGH"
	sink := newSignalSink(f.pool)
	p := f.provider(t, devices, sink)

	c.qr <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: "2@first"}
	st, err := p.Initialize(context.Background(), providers.InitializeParams{TenantID: f.tenant, SessionID: id, PairWithCode: true})
	require.NoError(t, err)
	require.Equal(t, "ABCD-EFGH", st.PairCode)
	require.Equal(t, "ABCD-EFGH", f.sessionRow(t, id).PairCode)

	// The phone confirms: whatsmeow reports success, then connects.
	jid := types.NewJID(ownPN, types.DefaultUserServer)
	jid.Device = 9
	c.emit(&events.PairSuccess{ID: jid})
	c.qr <- whatsmeow.QRChannelSuccess
	close(c.qr)
	c.login(ownPN)
	c.emit(&events.Connected{})
	sink.waitState(t, providers.StateConnected)
	r := f.sessionRow(t, id)
	require.Equal(t, providers.StateConnected, r.State)
	require.Empty(t, r.QRCode)
	require.Empty(t, r.PairCode)
	require.Equal(t, ownPN+":9@s.whatsapp.net", r.DeviceJID, "the store key, with the device number")

	// A paired session answers its state to a new Initialize.
	st, err = p.Initialize(context.Background(), providers.InitializeParams{TenantID: f.tenant, SessionID: id})
	require.NoError(t, err)
	require.Equal(t, providers.StateConnected, st.State)
}

func TestPairingOutdatedClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.addSession(t, ownPN, "")
	devices := &fakeDevices{}
	c := devices.nextNew()
	sink := newSignalSink(f.pool)
	p := f.provider(t, devices, sink)
	c.qr <- whatsmeow.QRChannelClientOutdated
	close(c.qr)
	st, err := p.Initialize(context.Background(), providers.InitializeParams{TenantID: f.tenant, SessionID: id})
	require.NoError(t, err)
	require.Equal(t, providers.StateOutdated, st.State)
	require.Equal(t, providers.StateOutdated, f.sessionRow(t, id).State)
}

// TestPairingWhenWhatsAppIsUnreachable: the dial hangs (black-holed
// network); Initialize gives up after ConnectTimeout with a retryable error
// and the session row says why, instead of holding the request.
func TestPairingWhenWhatsAppIsUnreachable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.addSession(t, ownPN, "")
	devices := &fakeDevices{}
	c := devices.nextNew()
	c.hang = true
	sink := newSignalSink(f.pool)
	p := f.provider(t, devices, sink, func(cfg *Config) { cfg.ConnectTimeout = 100 * time.Millisecond })

	_, err := p.Initialize(context.Background(), providers.InitializeParams{TenantID: f.tenant, SessionID: id})
	var retry *providers.RetryableError
	require.ErrorAs(t, err, &retry)
	require.ErrorIs(t, err, errConnectTimeout)
	r := f.sessionRow(t, id)
	require.Equal(t, providers.StatePairingFailed, r.State)
	require.Equal(t, reasonUnreachable, r.Reason)
	require.Empty(t, r.QRCode)
	require.Eventually(t, func() bool { return !p.Owns(id) }, 30*time.Second, 10*time.Millisecond, "the lease is given up")
}
