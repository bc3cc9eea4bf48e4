// Package zapbase holds the domain vocabulary of the zapbase WhatsApp sidecar:
// tenants, messages, message types and states, provider types and the stable
// error codes the HTTP API and the database speak.
//
// It imports nothing heavy on purpose: every other package depends on it, and
// it depends on no adapter (pgx, whatsmeow, genai, ...).
package zapbase
