package store

import "context"

// Ping checks the database answers (a start-up preflight: it runs no
// query over any table).
func (s *Store) Ping(ctx context.Context) error {
	if p, ok := s.db.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	_, err := s.db.Exec(ctx, ";")
	return err
}
