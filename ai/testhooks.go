//go:build zapbase_testhooks

package ai

import "context"

// SetBeforeCommitHook installs a hook run after the model answered and
// before the reply transaction (an error aborts the turn as a crash there
// would), on a runtime not yet started. Only binaries built with
// -tags zapbase_testhooks have it (the end-to-end suites' crash test).
func SetBeforeCommitHook(r *Runtime, f func(ctx context.Context, conversationID string) error) {
	r.beforeCommit = f
}
