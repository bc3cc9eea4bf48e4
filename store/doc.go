// Package store is the data layer: the only code that runs SQL against the
// product's tables (public.* and the sidecar's own wa.*).
//
// One query type per table, in the spirit of mautrix-whatsapp's wadb: a
// Store holds them (s.Messages, s.Sessions, s.Tenants, …), each method is
// one statement (or one batch) with typed arguments and results, and the SQL
// sits next to it as a constant. Callers never see SQL or the pool: the
// API, the AI runtime, the webhooks fan-out and the dispatcher call methods;
// providers get an EventSink and never a Store.
//
// Constants that appear in SQL (provider names, statuses, directions) come
// from the zapbase package and are spliced into the statements at compile
// time (see sql.go), never written as literals: a partial index such as
// messages_pending_idx (WHERE status = 'pending') is only usable when the
// predicate is a literal, so they cannot all be parameters.
//
// A Store runs on a pool; InTx runs a function with a Store bound to one
// transaction, so several queries commit together.
package store
