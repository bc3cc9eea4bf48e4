package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"rsc.io/qr"

	"github.com/zapbase/zapbase/providers/whatsmeow"
)

// TestTerminalQRIsTheCode decodes the half-block drawing back into modules
// and compares them with the QR encoding of the payload: what the terminal
// shows is the code the phone must scan.
func TestTerminalQRIsTheCode(t *testing.T) {
	const payload = "2@AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/=,Zm9vYmFy,YmF6cXV4,1"
	var out bytes.Buffer
	(&terminalPairing{w: &out}).show(whatsmeow.PairingCode{PhoneNumber: "5511955554444", QRCode: payload})
	text := out.String()
	require.Contains(t, text, "WhatsApp Web 5511955554444: escaneie o QR code")

	want, err := qr.Encode(payload, qr.L)
	require.NoError(t, err)
	// Keep the drawing lines only (made of block characters and spaces).
	var rows []string
	for _, line := range strings.Split(text, "\n") {
		if line != "" && strings.Trim(line, "█▀▄ ") == "" {
			rows = append(rows, line)
		}
	}
	// Quiet zone 2: one all-white line on top, then the code, two modules
	// per line, starting two characters in.
	const q = 2
	black := func(x, y int) bool {
		r := []rune(rows[1+y/2])
		c := r[q+x]
		if y%2 == 0 {
			return c == ' ' || c == '▄'
		}
		return c == ' ' || c == '▀'
	}
	for y := 0; y < want.Size; y++ {
		for x := 0; x < want.Size; x++ {
			require.Equal(t, want.Black(x, y), black(x, y), "module (%d,%d)", x, y)
		}
	}
}

func TestTerminalPairCode(t *testing.T) {
	var out bytes.Buffer
	(&terminalPairing{w: &out}).show(whatsmeow.PairingCode{PhoneNumber: "5511955554444", PairCode: "ABCD-EFGH"})
	require.Contains(t, out.String(), "código de pareamento ABCD-EFGH")
}
