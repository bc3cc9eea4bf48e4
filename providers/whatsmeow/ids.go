package whatsmeow

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/zapbase/zapbase/providers"
)

var _ providers.StableIDGenerator = (*Provider)(nil)

// MessageIDFor implements providers.StableIDGenerator: the message id of a
// row, in WhatsApp Web's format ("3EB0" + 18 upper-case hex digits), derived
// from the row id so every claim of the row sends the same id and WhatsApp
// deduplicates a resend. The id is not secret (the recipient sees it).
func (p *Provider) MessageIDFor(rowID string) string {
	h := sha256.Sum256([]byte("zapbase/whatsmeow/" + rowID))
	return "3EB0" + strings.ToUpper(hex.EncodeToString(h[:9]))
}
