package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/mdp/qrterminal/v3"

	"github.com/zapbase/zapbase/providers/whatsmeow"
)

// terminalPairing prints WhatsApp Web pairing codes in the terminal
// (zapbase dev only): each QR code as half-block characters, scannable by
// the phone from the screen, and each phone pairing code as text.
type terminalPairing struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *terminalPairing) show(pc whatsmeow.PairingCode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc.PairCode != "" {
		fmt.Fprintf(p.w, "\nWhatsApp Web %s: código de pareamento %s\n"+
			"  No celular: Aparelhos conectados > Conectar aparelho > Conectar com número de telefone.\n\n", pc.PhoneNumber, pc.PairCode)
		return
	}
	if pc.QRCode == "" {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nWhatsApp Web %s: escaneie o QR code (o código muda a cada ~20 s; o mais recente vale)\n"+
		"  No celular: Configurações > Aparelhos conectados > Conectar aparelho.\n\n", pc.PhoneNumber)
	renderQR(&b, pc.QRCode)
	fmt.Fprintln(&b)
	_, _ = io.WriteString(p.w, b.String())
}

// renderQR writes code as a QR in half blocks (two modules per character
// row) with a white quiet zone, readable on dark and light terminals.
func renderQR(w io.Writer, code string) {
	qrterminal.GenerateWithConfig(code, qrterminal.Config{
		Level:          qrterminal.L,
		Writer:         w,
		HalfBlocks:     true,
		BlackChar:      qrterminal.BLACK_BLACK,
		WhiteBlackChar: qrterminal.WHITE_BLACK,
		WhiteChar:      qrterminal.WHITE_WHITE,
		BlackWhiteChar: qrterminal.BLACK_WHITE,
		QuietZone:      2,
	})
}
