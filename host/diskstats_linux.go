package host

import "syscall"

// diskStats is the capacity of the filesystem of dir and what unprivileged
// writers may still take of it, as the kubelet's image GC measures them.
func diskStats(dir string) (capacity, available int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	// Frsize and Bsize are int32 on some 32-bit architectures.
	bs := int64(st.Frsize)
	if bs == 0 {
		bs = int64(st.Bsize)
	}
	return int64(st.Blocks) * bs, int64(st.Bavail) * bs, nil
}
