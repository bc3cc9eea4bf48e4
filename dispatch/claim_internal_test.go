package dispatch

import "testing"

// A claim commits asynchronously only when no row of it could be sent
// under an id the channel would not recognise after a lost claim.
func TestAsyncClaimOnlyWhenEveryRowIsStable(t *testing.T) {
	stable := &decisionRoute{stable: true}
	unstable := &decisionRoute{}                         // e.g. Meta: no caller ids
	noSend := &decisionRoute{outcome: &outcome{id: "x"}} // failed or put back: nothing sent
	for _, c := range []struct {
		name   string
		routes map[string]*decisionRoute
		want   bool
	}{
		{"empty", map[string]*decisionRoute{}, false},
		{"all stable", map[string]*decisionRoute{"a": stable, "b": stable}, true},
		{"stable and outcomes", map[string]*decisionRoute{"a": stable, "b": noSend}, true},
		{"only outcomes", map[string]*decisionRoute{"a": noSend}, true},
		{"one unstable", map[string]*decisionRoute{"a": stable, "b": unstable}, false},
	} {
		if got := asyncClaim(c.routes); got != c.want {
			t.Errorf("%s: asyncClaim = %v, want %v", c.name, got, c.want)
		}
	}
}
