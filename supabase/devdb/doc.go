// Package devdb runs PostgreSQL for `zapbase dev` and for tests, from the
// Debian (or any system) binaries: no download, no Docker.
//
// It starts `postgres` with wal_level=logical and enough replication slots and
// WAL senders for the listener, on loopback only, with the data directory
// under ./.zapbase/ (dev) or a temporary directory (tests). initdb and postgres
// refuse to run as root, so when the caller is root the server runs as an
// unprivileged system user (postgres, else nobody) that owns the data dir.
//
// ApplyCompat installs a small Supabase compatibility layer (roles anon,
// authenticated, service_role; auth.uid/role/email/jwt reading
// request.jwt.claims; a minimal auth.users; an empty supabase_realtime
// publication) only where Supabase's own objects are missing, so pointing it
// at a real Supabase database changes nothing.
package devdb
