// Package seccomptest loads compiled filters into a test process the way
// skiff's C init does, so tests can watch a filter work without a
// container.
package seccomptest

import (
	"errors"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Load installs a compiled program (seccomp.Program's Filter and Flags)
// on the calling OS thread, which the caller must have locked
// (runtime.LockOSThread) and must keep: the filter is never synchronised
// to other threads, as in the single-threaded init. It returns the notify
// fd when listener is set, else -1. (It takes the fields, not the
// Program, so that package seccomp's own tests can use it.)
func Load(filter []byte, flags uint32, listener bool) (int, error) {
	if len(filter) == 0 || len(filter)%8 != 0 {
		return -1, errors.New("seccomptest: empty or malformed program")
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, err
	}
	insns := make([]unix.SockFilter, len(filter)/8)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&insns[0])), len(filter)), filter)
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		uintptr(flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(insns)
	if errno != 0 {
		return -1, errno
	}
	if listener {
		return int(r), nil
	}
	return -1, nil
}
