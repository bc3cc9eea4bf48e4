package devdb

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/jackc/pgx/v5"
)

//go:embed compat.sql
var compatSQL string

// ApplyCompat installs the Supabase compatibility layer where it is missing.
// It is idempotent and a no-op on a real Supabase database.
func ApplyCompat(ctx context.Context, databaseURL string) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("connect for compat layer: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, compatSQL); err != nil {
		return fmt.Errorf("apply compat layer: %w", err)
	}
	return nil
}
