package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Limits of one delivery attempt.
const (
	// MaxRedirects is how many redirects an attempt follows (each target is
	// checked again at dial time).
	MaxRedirects = 3
	// ResponsePrefixBytes is how much of a receiver's answer is read and
	// stored; the rest is never read.
	ResponsePrefixBytes = 1024
	// DefaultConnectTimeout bounds the TCP connect of an attempt.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultTimeout bounds a whole attempt (connect, TLS, request, answer).
	DefaultTimeout = 15 * time.Second
)

// BlockedError is returned when a webhook target resolves to an address
// the policy refuses (private, loopback, link-local...).
type BlockedError struct {
	Host   string
	IP     netip.Addr
	Reason string
}

func (e *BlockedError) Error() string {
	if e.IP.IsValid() {
		return fmt.Sprintf("webhook target %s (%s) refused: %s address", e.Host, e.IP, e.Reason)
	}
	return fmt.Sprintf("webhook target %s refused: %s", e.Host, e.Reason)
}

// errRedirect: a redirect was refused (too many, or not http/https).
var errRedirect = errors.New("redirect refused")

// blockedRange is an address range no webhook may reach by default.
type blockedRange struct {
	prefix netip.Prefix
	reason string
}

// blockedRanges are the special-purpose ranges (IANA registries) that are
// not the public internet. IPv4-mapped IPv6 (::ffff:0:0/96) is refused
// outright: it is how "::ffff:127.0.0.1" would sneak past an IPv4 list.
var blockedRanges = func() []blockedRange {
	list := []struct{ cidr, reason string }{
		{"0.0.0.0/8", "unspecified"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "cgnat"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "reserved"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "reserved"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"},
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::ffff:0:0/96", "ipv4-mapped"},
		{"64:ff9b::/96", "nat64"},
		{"64:ff9b:1::/48", "nat64"},
		{"100::/64", "discard"},
		{"2001::/32", "teredo"},
		{"2001:db8::/32", "documentation"},
		{"2002::/16", "6to4"},
		{"fc00::/7", "private"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	}
	out := make([]blockedRange, len(list))
	for i, r := range list {
		out[i] = blockedRange{netip.MustParsePrefix(r.cidr), r.reason}
	}
	return out
}()

// Classify returns why ip is not a public internet address ("private",
// "loopback", "link-local", "cgnat", "multicast", "ipv4-mapped", ...), or
// "" when it is public.
func Classify(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid"
	}
	ip = ip.WithZone("")
	for _, r := range blockedRanges {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	if ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "broadcast"
	}
	return ""
}

// Policy decides which webhook targets may be reached. The zero Policy
// refuses every non-public address.
type Policy struct {
	// AllowPrefixes are ranges allowed although not public (dev receivers,
	// an n8n in the same private network).
	AllowPrefixes []netip.Prefix
	// AllowHosts are host names (lower case) allowed to resolve to any
	// address.
	AllowHosts []string
}

// ParsePolicy reads an operator allow-list (ZAPBASE_WEBHOOK_ALLOW_PRIVATE):
// comma-separated CIDRs (10.0.0.0/8), single addresses (127.0.0.1) or host
// names (n8n.internal).
func ParsePolicy(s string) (Policy, error) {
	var p Policy
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(item); err == nil {
			p.AllowPrefixes = append(p.AllowPrefixes, pfx.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(item); err == nil {
			p.AllowPrefixes = append(p.AllowPrefixes, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		if !validHostName(item) {
			return Policy{}, fmt.Errorf("invalid allow-list entry %q (want a CIDR, an address or a host name)", item)
		}
		p.AllowHosts = append(p.AllowHosts, strings.ToLower(strings.TrimSuffix(item, ".")))
	}
	return p, nil
}

func validHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// hostAllowed reports whether host is allow-listed by name.
func (p Policy) hostAllowed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, h := range p.AllowHosts {
		if h == host {
			return true
		}
	}
	return false
}

// Check returns a *BlockedError when ip may not be dialled.
func (p Policy) Check(host string, ip netip.Addr) error {
	ip = ip.WithZone("")
	reason := Classify(ip)
	if reason == "" {
		return nil
	}
	for _, pfx := range p.AllowPrefixes {
		if pfx.Contains(ip) {
			return nil
		}
	}
	return &BlockedError{Host: host, IP: ip, Reason: reason}
}

// CheckURL validates a subscription URL before it is stored: http(s), a
// host, no credentials, and — when the host is an address literal or a
// localhost name — an address the policy allows. Names are resolved only at
// dial time (every attempt), which is where rebinding is stopped.
func (p Policy) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("want an absolute http:// or https:// URL")
	}
	if u.User != nil {
		return nil, errors.New("credentials in the URL are not accepted")
	}
	host := u.Hostname()
	if p.hostAllowed(host) {
		return u, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := p.Check(host, ip); err != nil {
			return nil, err
		}
		return u, nil
	}
	lh := strings.ToLower(strings.TrimSuffix(host, "."))
	if lh == "localhost" || strings.HasSuffix(lh, ".localhost") {
		if err := p.Check(host, netip.MustParseAddr("127.0.0.1")); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// ClientConfig configures the HTTP client of deliveries.
type ClientConfig struct {
	Policy         Policy
	ConnectTimeout time.Duration // default DefaultConnectTimeout
	Timeout        time.Duration // default DefaultTimeout
	// Resolver resolves target names (default net.DefaultResolver).
	Resolver Resolver
}

// Resolver resolves host names (*net.Resolver implements it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// NewClient returns the HTTP client deliveries use: every connection goes
// to an address checked against the policy at dial time (names are resolved
// here and the checked address is dialled, so DNS rebinding cannot swap it),
// the socket's peer is checked again in the dialer's Control, no
// environment proxy is used, at most MaxRedirects redirects are followed
// and each attempt is bounded by the timeouts.
func NewClient(cfg ClientConfig) *http.Client {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	g := &guard{policy: cfg.Policy, resolver: cfg.Resolver, connectTimeout: cfg.ConnectTimeout}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the checks
		DialContext:           g.dialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.Timeout,
		// Receivers answer with a status; nothing needs 1 MiB of headers.
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        60 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return fmt.Errorf("%w: more than %d", errRedirect, MaxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("%w: scheme %q", errRedirect, req.URL.Scheme)
			}
			return nil
		},
	}
}

// guard dials only addresses its policy allows.
type guard struct {
	policy         Policy
	resolver       Resolver
	connectTimeout time.Duration
}

func (g *guard) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	byName := g.policy.hostAllowed(host)
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = g.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		// The resolver hands IPv4 answers back in their 16-byte form; they
		// are IPv4 addresses, checked as such. (An IPv4-mapped literal in
		// the URL itself is refused.)
		for i := range ips {
			ips[i] = ips[i].Unmap()
		}
	}
	d := &net.Dialer{Timeout: g.connectTimeout}
	if !byName {
		// Belt and braces: whatever address the socket is about to connect
		// to is checked once more, right before connect(2).
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			return g.policy.Check(host, ap.Addr())
		}
	}
	var firstErr error
	for _, ip := range ips {
		if !byName {
			if err := g.policy.Check(host, ip); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
		}
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.WithZone("").String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("no address for %s", host)
	}
	return nil, firstErr
}
