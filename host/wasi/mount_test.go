package wasi_test

import (
	"os"
	"testing"
)

// mustRoot opens dir for a mount; the instance it is given to closes it.
func mustRoot(t testing.TB, dir string) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
