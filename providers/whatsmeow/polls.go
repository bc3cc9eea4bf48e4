package whatsmeow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// buildPoll builds a poll creation message. whatsmeow adds the message
// secret and stores it when the poll is sent, so votes can be decrypted.
func buildPoll(c Client, ct providers.Content) (*waE2E.Message, error) {
	invalid := func(reason string) error {
		return &providers.PermanentError{Code: CodeInvalidContent, Reason: reason, Err: errors.New(reason)}
	}
	fc, ok := c.(FeatureClient)
	if !ok {
		return nil, &providers.PermanentError{Code: string(zapbase.CodeUnsupportedByProvider),
			Reason: "Este cliente do WhatsApp Web não envia enquetes.", Err: providers.ErrUnsupported}
	}
	if err := ct.Poll.Validate(); err != nil {
		return nil, invalid(err.Error())
	}
	return fc.BuildPollCreation(ct.Poll.Name, ct.Poll.Options, ct.Poll.SelectableCount), nil
}

// pollContent maps a poll creation message.
func pollContent(p *waE2E.PollCreationMessage) *providers.Poll {
	out := &providers.Poll{Name: p.GetName(), SelectableCount: int(p.GetSelectableOptionsCount()), Options: []string{}}
	for _, o := range p.GetOptions() {
		out.Options = append(out.Options, o.GetOptionName())
	}
	return out
}

// decryptPollVote turns a poll update into a poll_vote row's content: the
// vote is decrypted with the poll's message secret and its option hashes are
// matched against the poll's row. A vote that cannot be decrypted stays an
// unsupported row (nothing is lost).
func (s *session) decryptPollVote(ctx context.Context, c Client, e *events.Message, m *providers.InboundMessage) {
	upd := e.Message.GetPollUpdateMessage()
	pollID := upd.GetPollCreationMessageKey().GetID()
	fc, ok := c.(FeatureClient)
	if !ok {
		return
	}
	vote, err := fc.DecryptPollVote(ctx, e)
	if err != nil && !e.Info.SenderAlt.IsEmpty() {
		// The secret's additional data names the voter by the identity the
		// vote was encrypted for; during WhatsApp's LID migration that may
		// be the other one (PN vs LID).
		alt := *e
		alt.Info.Sender, alt.Info.SenderAlt = e.Info.SenderAlt, e.Info.Sender
		vote, err = fc.DecryptPollVote(ctx, &alt)
	}
	if err != nil {
		s.log.Warn("decrypt poll vote", "message_id", e.Info.ID, "poll_message_id", pollID, "error", err)
		m.Content.Raw = mustJSON(map[string]any{"event": "poll_vote", "error": "decrypt_failed"})
		return
	}
	pv := &providers.PollVote{PollMessageID: pollID, SelectedOptions: []string{}}
	rowID, options, err := s.p.lookupPoll(ctx, s.tenantID, pollID)
	if err != nil {
		s.log.Warn("lookup poll", "poll_message_id", pollID, "error", err)
	}
	pv.PollRowID = rowID
	byHash := map[string]string{}
	for _, o := range options {
		sum := sha256.Sum256([]byte(o))
		byHash[string(sum[:])] = o
	}
	for _, h := range vote.GetSelectedOptions() {
		if name, ok := byHash[string(h)]; ok {
			pv.SelectedOptions = append(pv.SelectedOptions, name)
		} else {
			pv.UnknownHashes = append(pv.UnknownHashes, hex.EncodeToString(h))
		}
	}
	m.Type = zapbase.MessagePollVote
	m.Content = providers.Content{TargetMessageID: pollID, PollVote: pv}
}

// lookupPoll finds the poll's row (sent or received) of the tenant and its
// options.
func (p *Provider) lookupPoll(ctx context.Context, tenantID, pollMessageID string) (string, []string, error) {
	row, ok, err := p.cfg.DB.LookupPoll(ctx, tenantID, pollMessageID)
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, nil
	}
	id, raw := row.RowID, row.Poll
	var poll providers.Poll
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &poll); err != nil {
			return id, nil, fmt.Errorf("decode poll %s: %w", pollMessageID, err)
		}
	}
	return id, poll.Options, nil
}

// pnOnly returns j when it is a phone-number JID.
func pnOnly(j types.JID) types.JID {
	if j.Server == types.DefaultUserServer {
		return j
	}
	return types.EmptyJID
}
