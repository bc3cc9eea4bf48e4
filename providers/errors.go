package providers

import (
	"errors"
	"fmt"
	"time"
)

// The classified errors a provider returns from Send. Every provider
// translates its vendor errors into exactly one of these at its edge, and
// dispatch decides with errors.As.

// RetryableError: a transient failure (5xx, network); retry after After
// (zero: dispatch's backoff decides).
type RetryableError struct {
	After time.Duration
	Err   error
}

func (e *RetryableError) Error() string { return fmt.Sprintf("retryable: %v", e.Err) }
func (e *RetryableError) Unwrap() error { return e.Err }

// RateLimitScope says what a rate limit applies to.
type RateLimitScope string

// Rate limit scopes.
const (
	ScopeNumber    RateLimitScope = "number"    // the sending number (Meta throughput)
	ScopeRecipient RateLimitScope = "recipient" // one sender→recipient pair (Meta 131056)
	ScopeTenant    RateLimitScope = "tenant"
)

// RateLimitedError: the channel asked to slow down; retry after After, and
// pace the whole Scope meanwhile.
type RateLimitedError struct {
	After time.Duration
	Scope RateLimitScope
	Code  string
	Err   error
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited (%s, retry after %s): %v", e.Scope, e.After, e.Err)
}
func (e *RateLimitedError) Unwrap() error { return e.Err }

// PermanentError: this message can never be sent as is. Code is the
// provider's error code (e.g. "131047"); Reason is a pt-BR explanation for
// users.
type PermanentError struct {
	Code   string
	Reason string
	Err    error
}

func (e *PermanentError) Error() string { return fmt.Sprintf("permanent %s: %v", e.Code, e.Err) }
func (e *PermanentError) Unwrap() error { return e.Err }

// AuthLostError: the session's credentials are no longer valid (Meta token
// expired, WhatsApp device logged out). Sends on the session stop until it
// is set up again.
type AuthLostError struct {
	Code   string
	Reason string
	Err    error
}

func (e *AuthLostError) Error() string { return fmt.Sprintf("auth lost: %v", e.Err) }
func (e *AuthLostError) Unwrap() error { return e.Err }

// SessionUnavailableError: the session cannot send right now (disconnected,
// not owned by this replica, banned until Until). The message waits.
type SessionUnavailableError struct {
	State string
	Until time.Time
	Err   error
}

func (e *SessionUnavailableError) Error() string {
	return fmt.Sprintf("session unavailable (%s): %v", e.State, e.Err)
}
func (e *SessionUnavailableError) Unwrap() error { return e.Err }

// AmbiguousError: the send may or may not have reached the channel (a
// timeout after the request was written, with a provider that has no
// idempotency key). Dispatch records it instead of resending blindly.
type AmbiguousError struct {
	Err error
}

func (e *AmbiguousError) Error() string { return fmt.Sprintf("ambiguous send: %v", e.Err) }
func (e *AmbiguousError) Unwrap() error { return e.Err }

// ErrUnsupported is wrapped in a PermanentError when a message type is not
// supported by the channel.
var ErrUnsupported = errors.New("unsupported by this provider")

// ErrorClass names which classified error a provider error is: the label
// of retry metrics, span statuses and the conformance suite's kinds.
type ErrorClass string

// The error classes, one per classified error type, and ClassUnknown for
// an unclassified error (or nil).
const (
	ClassRetryable          ErrorClass = "retryable"
	ClassRateLimited        ErrorClass = "rate_limited"
	ClassSessionUnavailable ErrorClass = "session_unavailable"
	ClassAuthLost           ErrorClass = "auth_lost"
	ClassAmbiguous          ErrorClass = "ambiguous"
	ClassPermanent          ErrorClass = "permanent"
	ClassUnknown            ErrorClass = "unknown"
)

// ClassOf answers which classified error err is. When err's chain holds
// several, the most consequential wins, in dispatch's order: ambiguous
// (never resend blindly), permanent, auth lost, session unavailable, rate
// limited, retryable.
func ClassOf(err error) ErrorClass {
	if err == nil {
		return ClassUnknown
	}
	var (
		am *AmbiguousError
		pe *PermanentError
		al *AuthLostError
		su *SessionUnavailableError
		rl *RateLimitedError
		re *RetryableError
	)
	switch {
	case errors.As(err, &am):
		return ClassAmbiguous
	case errors.As(err, &pe):
		return ClassPermanent
	case errors.As(err, &al):
		return ClassAuthLost
	case errors.As(err, &su):
		return ClassSessionUnavailable
	case errors.As(err, &rl):
		return ClassRateLimited
	case errors.As(err, &re):
		return ClassRetryable
	default:
		return ClassUnknown
	}
}

// Classified reports whether err is (or wraps) a classified provider error.
func Classified(err error) bool { return ClassOf(err) != ClassUnknown }
