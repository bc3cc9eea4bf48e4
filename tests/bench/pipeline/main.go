package main

import (
	_ "github.com/riverqueue/river"
	_ "github.com/riverqueue/river/riverdriver/riverpgxv5"
	_ "github.com/zapbase/zapbase/supabase/devdb"
)

func main() {}
