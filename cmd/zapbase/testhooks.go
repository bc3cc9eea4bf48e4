//go:build zapbase_testhooks

package main

// Test hooks of the end-to-end suites (tests/ builds the binary with
// -tags zapbase_testhooks). A production build has none of this code: the
// variables below are ignored there (testhooks_off.go).

import (
	"context"
	"os"
	"syscall"

	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/api"
	"github.com/zapbase/zapbase/providers/whatsmeow"
	"github.com/zapbase/zapbase/providers/whatsmeow/whatsmeowfake"
)

// testHooks reports that this binary carries the test hooks.
const testHooks = true

// whatsmeowClients picks the device factory: with
// ZAPBASE_TEST_WHATSMEOW_FAKE=1 an offline fake WhatsApp Web.
func (m *Main) whatsmeowClients(st *whatsmeow.Store) (whatsmeow.NewClientFunc, error) {
	if !m.cfg.TestWhatsmeowFake {
		return st.NewClient, nil
	}
	m.log.Warn("ZAPBASE_TEST_WHATSMEOW_FAKE=1: WhatsApp Web uses an offline fake client (tests only)")
	fake := whatsmeowfake.New(m.log)
	// The test's hand on the fake phones (scan a QR, rotate it).
	m.mounts = append(m.mounts, api.Mount{Pattern: "POST /__test/whatsmeowfake/{action}", Handler: fake.Control()})
	return fake.NewClient, nil
}

// installAIHooks installs the ZAPBASE_TEST_AI_CRASH_BEFORE_COMMIT hook:
// the process SIGKILLs itself between the model's answer and the reply
// commit.
func (m *Main) installAIHooks(rt *ai.Runtime) {
	if !m.cfg.AI.CrashBeforeCommit {
		return
	}
	m.log.Warn("ZAPBASE_TEST_AI_CRASH_BEFORE_COMMIT is set: this process will kill itself before committing an AI reply (test hook)")
	ai.SetBeforeCommitHook(rt, func(_ context.Context, conversationID string) error {
		m.log.Warn("test hook: killing the process before the AI reply commit", "conversation_id", conversationID)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never returns: the signal ends the process
	})
}
