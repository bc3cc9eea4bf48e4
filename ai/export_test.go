package ai

import "context"

// SetBeforeCommitForTest installs the before-commit hook (see
// Runtime.beforeCommit) on a runtime not yet started.
func SetBeforeCommitForTest(r *Runtime, f func(ctx context.Context, conversationID string) error) {
	r.beforeCommit = f
}
