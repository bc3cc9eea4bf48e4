package zapbase

import (
	"strings"
)

// Recipient validation: whether a number can exist, never whether it has
// WhatsApp (that is a lookup, done by providers). The same rules live in SQL
// as wa_rls.valid_phone_number / wa_rls.valid_recipient (migration 000070),
// so a row a supabase-js client inserts with an impossible recipient is
// refused by the database; a test compares the two over every country-code
// prefix and length.

// Length bounds of an international number (country code included), as
// zapbase accepts them: E.164 allows at most 15 digits; the shortest
// numbers zapbase accepts have 8 (a handful of territories with 7-digit
// international numbers, such as Niue or Tokelau, are out).
const (
	MinPhoneDigits = 8
	MaxPhoneDigits = 15
)

// countryCodes are the assigned ITU-T E.164 country codes (geographic and
// global services). E.164 codes are prefix-free: no code starts another.
var countryCodes = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`
1 7
20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58
60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98
211 212 213 216 218 220 221 222 223 224 225 226 227 228 229
230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 247 248 249
250 251 252 253 254 255 256 257 258 260 261 262 263 264 265 266 267 268 269
290 291 297 298 299
350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 376 377 378
380 381 382 383 385 386 387 389 420 421 423
500 501 502 503 504 505 506 507 508 509 590 591 592 593 594 595 596 597 598 599
670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 687 688 689 690 691 692
800 808 850 852 853 855 856 870 878 880 881 882 883 886 888
960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977 979
992 993 994 995 996 998`) {
		countryCodes[c] = true
	}
}

// CountryCodes returns every country code CheckPhoneNumber accepts.
func CountryCodes() []string {
	out := make([]string, 0, len(countryCodes))
	for c := range countryCodes {
		out = append(out, c)
	}
	return out
}

// brazilDDDs are Brazil's area codes (Anatel).
var brazilDDDs = map[string]bool{}

func init() {
	for _, d := range strings.Fields(`11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38
41 42 43 44 45 46 47 48 49 51 53 54 55 61 62 63 64 65 66 67 68 69 71 73 74 75 77 79
81 82 83 84 85 86 87 88 89 91 92 93 94 95 96 97 98 99`) {
		brazilDDDs[d] = true
	}
}

func invalidRecipient(format string, args ...any) *Error {
	return Errorf(CodeInvalidRecipient, format, args...)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CountryCode returns the E.164 country code number starts with, or "".
func CountryCode(number string) string {
	for n := 1; n <= 3 && n <= len(number); n++ {
		if countryCodes[number[:n]] {
			return number[:n]
		}
	}
	return ""
}

// CheckPhoneNumber reports whether number (international digits, country
// code first, no '+') can be a real phone number: 8 to 15 digits, a country
// code that exists, a national part that is not all zeros, and the length
// and area-code rules of Brazil (+55: valid DDD, 8 digits, or 9 digits
// starting with 9) and of the North American plan (+1: 10 digits, area code
// and exchange starting 2-9). The error is an *Error with code
// invalid_recipient and a pt-BR reason.
func CheckPhoneNumber(number string) error {
	if !allDigits(number) {
		return invalidRecipient("o número deve ter só dígitos, com o código do país (ex.: 5511988887777)")
	}
	if len(number) < MinPhoneDigits || len(number) > MaxPhoneDigits {
		return invalidRecipient("o número deve ter de %d a %d dígitos com o código do país; tem %d", MinPhoneDigits, MaxPhoneDigits, len(number))
	}
	cc := CountryCode(number)
	if cc == "" {
		return invalidRecipient("o número não começa com um código de país existente (ex.: 55 para o Brasil)")
	}
	national := number[len(cc):]
	if strings.Trim(national, "0") == "" {
		return invalidRecipient("o número não pode ser só zeros")
	}
	switch cc {
	case "55":
		return checkBrazil(national)
	case "1":
		if len(national) != 10 || national[0] < '2' || national[3] < '2' {
			return invalidRecipient("número do plano norte-americano (+1) inválido: são 10 dígitos depois do 1, e o código de área e o prefixo começam com 2 a 9")
		}
	}
	return nil
}

func checkBrazil(national string) error {
	if len(national) != 10 && len(national) != 11 {
		return invalidRecipient("número brasileiro inválido: depois do 55 vêm o DDD e 8 ou 9 dígitos (ex.: 5511988887777)")
	}
	if ddd := national[:2]; !brazilDDDs[ddd] {
		return invalidRecipient("número brasileiro com DDD %s inexistente", ddd)
	}
	subscriber := national[2:]
	if len(subscriber) == 9 && subscriber[0] != '9' {
		return invalidRecipient("número brasileiro inválido: com 9 dígitos depois do DDD, o primeiro é 9 (celular)")
	}
	if len(subscriber) == 8 && subscriber[0] < '2' {
		return invalidRecipient("número brasileiro inválido: com 8 dígitos depois do DDD, o primeiro vai de 2 a 9")
	}
	return nil
}

// JID servers a recipient may name. User servers carry a phone number,
// which must be valid; the others carry opaque ids.
var (
	phoneJIDServers  = map[string]bool{"s.whatsapp.net": true, "c.us": true}
	opaqueJIDServers = map[string]bool{"g.us": true, "lid": true, "newsletter": true, "broadcast": true}
)

// CheckRecipient reports whether to can be stored as messages.to_number:
// international digits (see CheckPhoneNumber; no '+'), a WhatsApp user JID
// (number[:device]@s.whatsapp.net or @c.us) with a valid number, a group,
// LID, newsletter or broadcast JID, or a Meta business-scoped user id
// (CC.<id>). It checks validity only, not whether the number has WhatsApp.
func CheckRecipient(to string) error {
	if user, server, ok := strings.Cut(to, "@"); ok {
		switch {
		case phoneJIDServers[server]:
			number, device, hasDevice := strings.Cut(user, ":")
			if !allDigits(number) || (hasDevice && (!allDigits(device) || len(device) > 3)) {
				return invalidRecipient("JID de usuário inválido: use <número>@s.whatsapp.net")
			}
			return CheckPhoneNumber(number)
		case opaqueJIDServers[server]:
			if !opaqueJIDUser(user) {
				return invalidRecipient("JID inválido: até 80 letras, dígitos, '.', '_', ':' ou '-' antes do @")
			}
			return nil
		default:
			return invalidRecipient("servidor de JID desconhecido: %q", truncateForMessage(server))
		}
	}
	if isBSUID(to) {
		return nil
	}
	if to == "" {
		return invalidRecipient("destinatário vazio")
	}
	return CheckPhoneNumber(to)
}

func opaqueJIDUser(u string) bool {
	if u == "" || len(u) > 80 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// isBSUID reports the shape of a Meta business-scoped user id: a two-letter
// country prefix, a dot, then up to 160 letters, digits and dots.
func isBSUID(s string) bool {
	if len(s) < 4 || len(s) > 163 || s[2] != '.' || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return false
	}
	for i := 3; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.') {
			return false
		}
	}
	return true
}

func truncateForMessage(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
