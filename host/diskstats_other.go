//go:build !linux

package host

import "errors"

// diskStats is not measured elsewhere than on Linux: image garbage
// collection reports that it cannot run.
func diskStats(string) (capacity, available int64, err error) {
	return 0, 0, errors.New("disk usage is measured on Linux only")
}
