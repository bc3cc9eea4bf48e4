package whatsmeow

import (
	"context"
	"fmt"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/zapbase/zapbase/providers"
)

var (
	_ providers.ContactProfiler = (*Provider)(nil)
	_ providers.Blocker         = (*Provider)(nil)
)

func parseContact(contact string, groupsToo bool) (types.JID, error) {
	j, err := parseRecipient(contact)
	if err != nil || (!groupsToo && j.Server == types.GroupServer) {
		return types.EmptyJID, invalidInput("Contato inválido: use o número com DDI e DDD ou um JID do WhatsApp.", fmt.Errorf("parse contact %q: %v", contact, err))
	}
	return j, nil
}

// ProfilePicture implements providers.ContactProfiler (contacts and groups).
func (p *Provider) ProfilePicture(ctx context.Context, sessionID, contact string, preview bool) (providers.ProfilePicture, error) {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return providers.ProfilePicture{}, err
	}
	j, err := parseContact(contact, true)
	if err != nil {
		return providers.ProfilePicture{}, err
	}
	info, err := c.GetProfilePictureInfo(ctx, j, &whatsmeow.GetProfilePictureParams{Preview: preview})
	if err != nil {
		return providers.ProfilePicture{}, classifyFeatureError("profile picture", err)
	}
	if info == nil || info.URL == "" {
		return providers.ProfilePicture{}, classifyFeatureError("profile picture", whatsmeow.ErrProfilePictureNotSet)
	}
	return providers.ProfilePicture{URL: info.URL, ID: info.ID}, nil
}

// BusinessProfile implements providers.ContactProfiler.
func (p *Provider) BusinessProfile(ctx context.Context, sessionID, contact string) (providers.BusinessProfile, error) {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return providers.BusinessProfile{}, err
	}
	j, err := parseContact(contact, false)
	if err != nil {
		return providers.BusinessProfile{}, err
	}
	bp, err := c.GetBusinessProfile(ctx, j)
	if err != nil {
		return providers.BusinessProfile{}, classifyFeatureError("business profile", err)
	}
	if bp == nil {
		return providers.BusinessProfile{}, &providers.PermanentError{Code: "not_found", Reason: "O contato não é uma conta comercial.",
			Err: fmt.Errorf("business profile of %s: %w", j, providers.ErrNotFound)}
	}
	out := providers.BusinessProfile{ID: contactID(bp.JID, types.EmptyJID), Address: bp.Address, Email: bp.Email,
		TimeZone: bp.BusinessHoursTimeZone, Description: bp.ProfileOptions["description"]}
	if bp.JID.IsEmpty() {
		out.ID = contactID(j, types.EmptyJID)
	}
	for _, cat := range bp.Categories {
		out.Categories = append(out.Categories, cat.Name)
	}
	if w := bp.ProfileOptions["website"]; w != "" {
		out.Websites = []string{w}
	}
	return out, nil
}

// SetBlocked implements providers.Blocker.
func (p *Provider) SetBlocked(ctx context.Context, sessionID, contact string, blocked bool) error {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return err
	}
	j, err := parseContact(contact, false)
	if err != nil {
		return err
	}
	action := events.BlocklistChangeActionUnblock
	if blocked {
		action = events.BlocklistChangeActionBlock
	}
	_, err = c.UpdateBlocklist(ctx, j, action)
	return classifyFeatureError("update blocklist", err)
}

// Blocklist implements providers.Blocker.
func (p *Provider) Blocklist(ctx context.Context, sessionID string) ([]string, error) {
	_, c, err := p.featureClient(sessionID)
	if err != nil {
		return nil, err
	}
	bl, err := c.GetBlocklist(ctx)
	if err != nil {
		return nil, classifyFeatureError("get blocklist", err)
	}
	out := []string{}
	if bl != nil {
		for _, j := range bl.JIDs {
			out = append(out, contactID(j, types.EmptyJID))
		}
	}
	return out, nil
}
