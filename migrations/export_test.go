package migrations

import "io/fs"

// UpFS is Up over another set of files (tests add a failing migration).
func UpFS(databaseURL string, fsys fs.FS) (Report, error) { return upFS(databaseURL, fsys) }

// Down1 reverts the latest migration.
func Down1(databaseURL string) error {
	m, closeFn, err := newMigrate(databaseURL)
	if err != nil {
		return err
	}
	defer closeFn()
	return m.Steps(-1)
}
