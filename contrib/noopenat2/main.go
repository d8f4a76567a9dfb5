// Command noopenat2 runs a program on a kernel that, as far as the
// program can tell, has no openat2(2): it installs a seccomp filter that
// answers ENOSYS to openat2 and allows everything else, then execs its
// arguments. The filter is inherited by every child and survives execve,
// so `noopenat2 skiff create ...` makes skiff, its init and the
// container see a pre-5.6 kernel (or a seccomp profile of an outer
// runtime that hides openat2). The integration tests use it to run the
// symlink and procfs tests through skiff's fallback path resolution.
//
//	noopenat2 [-eperm] [-clone3] PROGRAM [ARG...]
//
// -eperm answers EPERM instead, as some container engines' default
// seccomp profiles did for syscalls newer than the profile. -clone3
// answers clone3(2) the same way: a kernel before 5.3 has neither, and
// without clone3 a process cannot be born in its cgroup
// (CLONE_INTO_CGROUP), so skiff's way without it is tested too.
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
//	jeq AUDIT_ARCH_X86_64, 0, 4  another ABI: allow
//	ld  [0]                      nr
//	jeq SYS_openat2, 1, 0
//	jeq SYS_clone3 (or -1), 0, 1
//	ret ERRNO|ENOSYS (or EPERM)
//	ret ALLOW
func filter(errno unix.Errno, clone3 bool) []unix.SockFilter {
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	second := uint32(0xffffffff) // no syscall has this number
	if clone3 {
		second = unix.SYS_CLONE3
	}
	return []unix.SockFilter{
		{Code: ldAbs, K: 4},
		{Code: jeq, Jt: 0, Jf: 4, K: unix.AUDIT_ARCH_X86_64},
		{Code: ldAbs, K: 0},
		{Code: jeq, Jt: 1, Jf: 0, K: unix.SYS_OPENAT2},
		{Code: jeq, Jt: 0, Jf: 1, K: second},
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
	args, errno, clone3 := os.Args[1:], unix.ENOSYS, false
	for len(args) > 0 && (args[0] == "-eperm" || args[0] == "-clone3") {
		if args[0] == "-eperm" {
			errno = unix.EPERM
		} else {
			clone3 = true
		}
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: noopenat2 [-eperm] [-clone3] PROGRAM [ARG...]")
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
	insns := filter(errno, clone3)
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog))); e != 0 {
		fatal(fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", e))
	}
	// Check the filter does what it is for before handing over.
	if _, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC}); err != errno {
		fatal(fmt.Errorf("openat2 still answers (%v) under the filter", err))
	}
	if clone3 {
		// A zero size makes a clone3 that gets through fail with EINVAL.
		if _, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0); e != errno {
			fatal(fmt.Errorf("clone3 still answers (%v) under the filter", e))
		}
	}
	fatal(syscall.Exec(path, args, os.Environ()))
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "noopenat2: %v\n", err)
	os.Exit(1)
}
