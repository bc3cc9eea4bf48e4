package store

import (
	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// SQL literals of the zapbase constants, for splicing into statements
// (quoted, ready to use: `status = ` + sqlPending). Add one here rather than
// writing the value in a statement.
const (
	sqlPending   = `'` + string(zapbase.StatusPending) + `'`
	sqlSending   = `'` + string(zapbase.StatusSending) + `'`
	sqlSent      = `'` + string(zapbase.StatusSent) + `'`
	sqlDelivered = `'` + string(zapbase.StatusDelivered) + `'`
	sqlRead      = `'` + string(zapbase.StatusRead) + `'`
	sqlPlayed    = `'` + string(zapbase.StatusPlayed) + `'`
	sqlFailed    = `'` + string(zapbase.StatusFailed) + `'`
	sqlReceived  = `'` + string(zapbase.StatusReceived) + `'`

	sqlOutbound = `'` + string(zapbase.DirectionOutbound) + `'`
	sqlInbound  = `'` + string(zapbase.DirectionInbound) + `'`

	sqlBaileys = `'` + string(zapbase.ProviderBaileys) + `'`
	sqlMeta    = `'` + string(zapbase.ProviderMeta) + `'`
	sqlSandbox = `'` + string(zapbase.ProviderSandbox) + `'`
	sqlAuto    = `'` + string(zapbase.ProviderAuto) + `'`

	sqlReadMark = `'` + string(zapbase.MessageReadMark) + `'`
	sqlPoll     = `'` + string(zapbase.MessagePoll) + `'`
	sqlPollVote = `'` + string(zapbase.MessagePollVote) + `'`

	// sqlSessionDisconnected is providers.StateDisconnected (the state of a
	// session row before its first start); the providers package is not a
	// dependency of the data layer.
	sqlSessionDisconnected = `'disconnected'`
)

// SQL literals used by the AI runtime's statements.
const (
	sqlMessageText     = `'` + string(zapbase.MessageText) + `'`
	sqlMessageReadMark = `'` + string(zapbase.MessageReadMark) + `'`

	sqlConversationActive = `'` + string(zapbase.ConversationActive) + `'`
	sqlConversationPaused = `'` + string(zapbase.ConversationPaused) + `'`
	sqlTypeText           = `'` + string(zapbase.MessageText) + `'`
	sqlTypePoll           = `'` + string(zapbase.MessagePoll) + `'`
	sqlTypeUndecryptable  = `'` + string(zapbase.MessageUndecryptable) + `'`

	// Session states (whatsapp_sessions.state).
	sqlStateConnecting   = `'` + providers.StateConnecting + `'`
	sqlStateUnreachable  = `'` + providers.StateUnreachable + `'`
	sqlStateLoggedOut    = `'` + providers.StateLoggedOut + `'`
	sqlStateDisconnected = `'` + providers.StateDisconnected + `'`
)

// SQL literals of the other vocabularies the rest of the data layer writes:
// outgoing webhook delivery states and disable reasons (the Go constants are
// in webhook_deliveries.go and webhooks_rest.go), the message type, member
// role and session state the demo seed writes.
const (
	sqlWebhookPending   = `'` + WebhookDeliveryPending + `'`
	sqlWebhookSending   = `'` + WebhookDeliverySending + `'`
	sqlWebhookDelivered = `'` + WebhookDeliveryDelivered + `'`
	sqlWebhookDead      = `'` + WebhookDeliveryDead + `'`

	sqlWebhookDisabledGone = `'` + WebhookDisabledGone + `'`
	sqlWebhookDisabledUser = `'` + WebhookDisabledUser + `'`

	sqlText      = `'` + string(zapbase.MessageText) + `'`
	sqlRoleOwner = `'` + string(zapbase.RoleOwner) + `'`
	// sqlSessionConnected is providers.StateConnected (store does not
	// import providers).
	sqlSessionConnected = `'connected'`
)
