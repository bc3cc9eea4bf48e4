package store_test

import (
	"testing"

	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

func TestMain(m *testing.M) { devdbtest.Main(m) }
