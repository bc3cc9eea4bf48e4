package zapbase

import (
	"regexp"
	"time"
)

// Tenant is one company served by a deployment, identified externally by its
// ClientID (the X-Client-Id header) and internally by ID (a UUID).
type Tenant struct {
	ID                 string
	ClientID           string
	Name               string
	DefaultProvider    ProviderType
	RateLimitPerMinute int
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// MemberRole is what a user may do for a tenant.
type MemberRole string

// Member roles, from most to least powerful.
const (
	RoleOwner  MemberRole = "owner"
	RoleAdmin  MemberRole = "admin"
	RoleMember MemberRole = "member"
)

// Valid reports whether r is a known role.
func (r MemberRole) Valid() bool { return r == RoleOwner || r == RoleAdmin || r == RoleMember }

// DefaultRateLimitPerMinute is the original spec's default per-tenant API limit.
const DefaultRateLimitPerMinute = 100

var clientIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,62}$`)

// ValidClientID reports whether s is an acceptable client_id: lower-case
// letters, digits, '-' and '_', 2 to 63 characters, starting alphanumeric
// (it is used in Storage paths and Realtime topics).
func ValidClientID(s string) bool { return clientIDPattern.MatchString(s) }
