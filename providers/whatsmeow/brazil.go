package whatsmeow

// Brazil's ninth digit. Since 2016 every Brazilian mobile number has nine
// digits after the two-digit area code (DDD), the first being 9. WhatsApp
// accounts created before the change are still known under the old eight
// digit number, and WhatsApp does not map one to the other: a message to the
// wrong form is accepted by the server and never delivered. So before the
// first send to a Brazilian mobile number both forms are asked with
// IsOnWhatsApp and the one WhatsApp knows is used (resolve.go).

// brazilCountryCode is Brazil's calling code.
const brazilCountryCode = "55"

// brazilDDDs are Brazil's area codes (ANATEL). Numbers with other two-digit
// prefixes are not Brazilian numbers and are left alone.
var brazilDDDs = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true, "16": true, "17": true, "18": true, "19": true,
	"21": true, "22": true, "24": true, "27": true, "28": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "37": true, "38": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true, "47": true, "48": true, "49": true,
	"51": true, "53": true, "54": true, "55": true,
	"61": true, "62": true, "63": true, "64": true, "65": true, "66": true, "67": true, "68": true, "69": true,
	"71": true, "73": true, "74": true, "75": true, "77": true, "79": true,
	"81": true, "82": true, "83": true, "84": true, "85": true, "86": true, "87": true, "88": true, "89": true,
	"91": true, "92": true, "93": true, "94": true, "95": true, "96": true, "97": true, "98": true, "99": true,
}

// phoneCandidates returns the forms of the international number digits to
// ask WhatsApp about, the given form first. A Brazilian mobile number yields
// both the nine-digit form (9 after the DDD) and the old eight-digit form;
// landlines (first local digit 2–5) and other countries yield digits alone.
// mobile reports whether the number is a Brazilian mobile.
func phoneCandidates(digits string) (candidates []string, mobile bool) {
	if len(digits) < 4 || digits[:2] != brazilCountryCode || !brazilDDDs[digits[2:4]] {
		return []string{digits}, false
	}
	prefix, local := digits[:4], digits[4:]
	switch {
	case len(local) == 9 && local[0] == '9' && local[1] >= '6':
		// Current form: 9 + eight digits whose first is 6–9.
		return []string{digits, prefix + local[1:]}, true
	case len(local) == 8 && local[0] >= '6':
		// Old form of a mobile (first digit 6–9): add the 9.
		return []string{digits, prefix + "9" + local}, true
	}
	return []string{digits}, false
}
