package whatsmeow

import (
	"regexp"
	"testing"
)

func TestMessageIDForIsStableAndWhatsAppShaped(t *testing.T) {
	p := &Provider{}
	a, b := p.MessageIDFor("0b8f6c1e-8a47-4c1b-9f7e-3f1d2a9c4e55"), p.MessageIDFor("0b8f6c1e-8a47-4c1b-9f7e-3f1d2a9c4e56")
	if a != p.MessageIDFor("0b8f6c1e-8a47-4c1b-9f7e-3f1d2a9c4e55") {
		t.Fatal("the same row must always get the same id")
	}
	if a == b {
		t.Fatal("two rows got the same id")
	}
	if !regexp.MustCompile(`^3EB0[0-9A-F]{18}$`).MatchString(a) {
		t.Fatalf("id %q is not in WhatsApp Web's format", a)
	}
}
