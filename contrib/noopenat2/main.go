// Command noopenat2 runs a program on a kernel that, as far as the
// program can tell, has no openat2(2): it installs a seccomp filter that
// answers ENOSYS to openat2 and allows everything else, then execs its
// arguments. The filter is inherited by every child and survives execve,
// so `noopenat2 skiff create ...` makes skiff, its init and the
// container see a pre-5.6 kernel (or a seccomp profile of an outer
// runtime that hides openat2). The integration tests use it to run the
// symlink and procfs tests through skiff's fallback path resolution.
//
//	noopenat2 [-eperm] PROGRAM [ARG...]
//
// -eperm answers EPERM instead, as some container engines' default
// seccomp profiles did for syscalls newer than the profile.
//
// Build with CGO_ENABLED=0. x86-64 only: the filter checks the audit
// arch and lets any other ABI's syscalls through untouched.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The filter: seccomp_data is {int nr; u32 arch; u64 ip; u64 args[6]}.
//
//	ld  [4]                      arch
//	jeq AUDIT_ARCH_X86_64, 0, 3  another ABI: allow
//	ld  [0]                      nr
//	jeq SYS_openat2, 0, 1
//	ret ERRNO|ENOSYS (or EPERM)
//	ret ALLOW
func filter(errno unix.Errno) []unix.SockFilter {
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	return []unix.SockFilter{
		{Code: ldAbs, K: 4},
		{Code: jeq, Jt: 0, Jf: 3, K: unix.AUDIT_ARCH_X86_64},
		{Code: ldAbs, K: 0},
		{Code: jeq, Jt: 0, Jf: 1, K: unix.SYS_OPENAT2},
		{Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(errno)},
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
	}
}

func init() {
	// no_new_privs and the filter are per thread, and execve keeps the
	// calling thread's: do all of it on the main thread.
	runtime.LockOSThread()
}

func main() {
	args, errno := os.Args[1:], unix.ENOSYS
	if len(args) > 0 && args[0] == "-eperm" {
		args, errno = args[1:], unix.EPERM
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: noopenat2 [-eperm] PROGRAM [ARG...]")
		os.Exit(2)
	}
	if runtime.GOARCH != "amd64" {
		fatal(fmt.Errorf("only built for amd64, not %s", runtime.GOARCH))
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fatal(err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fatal(fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err))
	}
	insns := filter(errno)
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog))); e != 0 {
		fatal(fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", e))
	}
	// Check the filter does what it is for before handing over.
	if _, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC}); err != errno {
		fatal(fmt.Errorf("openat2 still answers (%v) under the filter", err))
	}
	fatal(syscall.Exec(path, args, os.Environ()))
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "noopenat2: %v\n", err)
	os.Exit(1)
}
