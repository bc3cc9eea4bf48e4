//go:build !zapbase_testhooks

package main

import (
	"errors"

	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/providers/whatsmeow"
)

// testHooks reports that this binary carries the test hooks: a production
// build does not (see testhooks.go).
const testHooks = false

// whatsmeowClients is the real device factory; ZAPBASE_TEST_WHATSMEOW_FAKE
// is refused (the fake is not in this binary).
func (m *Main) whatsmeowClients(st *whatsmeow.Store) (whatsmeow.NewClientFunc, error) {
	if m.cfg.TestWhatsmeowFake {
		return nil, errors.New("ZAPBASE_TEST_WHATSMEOW_FAKE needs a binary built with -tags zapbase_testhooks")
	}
	return st.NewClient, nil
}

// installAIHooks: ZAPBASE_TEST_AI_CRASH_BEFORE_COMMIT is refused at config
// load in this build (see LoadConfig), so there is never a hook.
func (m *Main) installAIHooks(*ai.Runtime) {}
