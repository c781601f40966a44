//go:build !linux

package store

import (
	"errors"
	"math"
	"os"
)

// Elsewhere than Linux the store neither measures free space nor keeps a
// reserve file (the node runs on Linux only).

func freeBytes(string) (int64, error) { return math.MaxInt64, nil }

var errNoPreallocate = errors.New("the store preallocates files on Linux only")

func preallocate(string, int64) error { return errNoPreallocate }

func lockDir(string) (func(), error) { return func() {}, nil }

func allocated(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// dataEnd is the file's size: holes are not looked for here.
func dataEnd(_ *os.File, size int64) int64 { return size }
