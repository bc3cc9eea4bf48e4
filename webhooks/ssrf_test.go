package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/webhooks"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ip, want string }{
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"2001:4860:4860::8888", ""},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"172.32.0.1", ""},
		{"192.168.0.10", "private"},
		{"fd00::1", "private"},
		{"169.254.169.254", "link-local"}, // cloud metadata
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"100.64.0.1", "cgnat"},
		{"100.127.255.255", "cgnat"},
		{"100.128.0.1", ""},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"::ffff:127.0.0.1", "ipv4-mapped"},
		{"::ffff:8.8.8.8", "ipv4-mapped"},
		{"64:ff9b::7f00:1", "nat64"},
		{"255.255.255.255", "reserved"},
		{"198.18.0.1", "benchmarking"},
		{"192.0.2.1", "documentation"},
	} {
		require.Equal(t, tc.want, webhooks.Classify(netip.MustParseAddr(tc.ip)), tc.ip)
	}
}

func TestParsePolicyAndCheck(t *testing.T) {
	t.Parallel()
	p, err := webhooks.ParsePolicy(" 127.0.0.0/8, ::1 ,10.0.0.5, n8n.internal ")
	require.NoError(t, err)
	require.NoError(t, p.Check("x", netip.MustParseAddr("127.0.0.1")))
	require.NoError(t, p.Check("x", netip.MustParseAddr("::1")))
	require.NoError(t, p.Check("x", netip.MustParseAddr("10.0.0.5")))
	require.NoError(t, p.Check("x", netip.MustParseAddr("8.8.8.8")))
	var be *webhooks.BlockedError
	require.ErrorAs(t, p.Check("x", netip.MustParseAddr("10.0.0.6")), &be)
	require.Equal(t, "private", be.Reason)
	_, err = webhooks.ParsePolicy("not a host!")
	require.Error(t, err)

	var zero webhooks.Policy
	for _, tc := range []struct {
		url     string
		blocked bool
		invalid bool
	}{
		{"https://n8n.example.com/webhook/abc", false, false},
		{"http://203.0.114.10:5678/hook", false, false},
		{"http://127.0.0.1:8080/hook", true, false},
		{"http://[::1]/hook", true, false},
		{"http://[::ffff:127.0.0.1]/hook", true, false},
		{"http://169.254.169.254/latest/meta-data", true, false},
		{"http://localhost:5678/", true, false},
		{"http://api.localhost/", true, false},
		{"http://10.0.0.1/", true, false},
		{"ftp://example.com/", false, true},
		{"https://user:pass@example.com/", false, true},
		{"/relative", false, true},
	} {
		_, err := zero.CheckURL(tc.url)
		switch {
		case tc.blocked:
			require.ErrorAs(t, err, &be, tc.url)
		case tc.invalid:
			require.Error(t, err, tc.url)
			require.False(t, errors.As(err, &be), tc.url)
		default:
			require.NoError(t, err, tc.url)
		}
	}
	// The allow-list opens names and ranges.
	_, err = p.CheckURL("http://n8n.internal:5678/webhook/x")
	require.NoError(t, err)
	_, err = p.CheckURL("http://localhost:5678/")
	require.NoError(t, err)
}

// rebinding answers a public address for the first lookup and loopback for
// the next ones: a check at subscription time alone would be fooled.
type rebinding struct{ n atomic.Int32 }

func (r *rebinding) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	if r.n.Add(1) == 1 {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("::ffff:127.0.0.1")}, nil
}

// The dial-time check refuses loopback targets however they are reached:
// an address literal, a name resolving to loopback (DNS rebinding), and a
// redirect to loopback; the allow-list lets a dev receiver through.
func TestClientRefusesPrivateTargetsAtDialTime(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(204)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	var be *webhooks.BlockedError

	c := webhooks.NewClient(webhooks.ClientConfig{})
	_, err := c.Post(srv.URL, "application/json", nil)
	require.ErrorAs(t, err, &be)
	require.Equal(t, "loopback", be.Reason)

	// A name that passed the subscription check, then rebinds to loopback.
	res := &rebinding{}
	_, _ = res.LookupNetIP(context.Background(), "ip", "hooks.example.com") // the "subscription time" lookup
	var zero webhooks.Policy
	_, err = zero.CheckURL("http://hooks.example.com:" + u.Port() + "/x")
	require.NoError(t, err)
	c = webhooks.NewClient(webhooks.ClientConfig{Resolver: res})
	_, err = c.Post("http://hooks.example.com:"+u.Port()+"/x", "application/json", nil)
	require.ErrorAs(t, err, &be)
	require.Equal(t, "loopback", be.Reason, "the resolver's 16-byte IPv4 answer is checked as IPv4")

	// A redirect to a loopback target is refused at its dial.
	allowed, err := webhooks.ParsePolicy("127.0.0.1")
	require.NoError(t, err)
	redirector := httptest.NewServer(http.RedirectHandler("http://[::1]:"+u.Port()+"/x", http.StatusFound))
	defer redirector.Close()
	c = webhooks.NewClient(webhooks.ClientConfig{Policy: allowed})
	_, err = c.Post(redirector.URL, "application/json", nil)
	require.ErrorAs(t, err, &be)
	require.Equal(t, "::1", be.IP.String())

	// More than three redirects are not followed.
	var loops atomic.Int32
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loops.Add(1)
		http.Redirect(w, r, "/again", http.StatusTemporaryRedirect)
	}))
	defer loop.Close()
	_, err = c.Post(loop.URL, "application/json", nil)
	require.ErrorContains(t, err, "redirect refused")
	require.EqualValues(t, 1+webhooks.MaxRedirects, loops.Load())

	// Allowed by the operator: delivered.
	require.Zero(t, hits.Load())
	r, err := c.Post(srv.URL, "application/json", nil)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, 204, r.StatusCode)
	require.EqualValues(t, 1, hits.Load())
	c.CloseIdleConnections()
}
