package seccomp

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func allowAllBut(rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rules}
}

func denyAllBut(def specs.LinuxSeccompAction, rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: def, Syscalls: append([]specs.LinuxSyscall{harnessAllow}, rules...)}
}

func onGetcwd(act specs.LinuxSeccompAction, errnoRet *uint) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: []string{"getcwd"}, Action: act, ErrnoRet: errnoRet}
}

func TestActionErrno(t *testing.T) {
	o := runFiltered(t, allowAllBut(onGetcwd(specs.ActErrno, nil)), []call{getcwd(), getpriority(1000, 0)})
	wantErrnos(t, o, unix.EPERM, unix.EINVAL)
	o = runFiltered(t, allowAllBut(onGetcwd(specs.ActErrno, uintp(uint(unix.EXDEV)))), []call{getcwd()})
	wantErrnos(t, o, unix.EXDEV)
}

func TestDefaultErrnoRet(t *testing.T) {
	s := denyAllBut(specs.ActErrno)
	s.DefaultErrnoRet = uintp(uint(unix.ENOTSUP))
	o := runFiltered(t, s, []call{getcwd()})
	wantErrnos(t, o, unix.ENOTSUP)
}

func TestActionAllowAndLog(t *testing.T) {
	for _, act := range []specs.LinuxSeccompAction{specs.ActAllow, specs.ActLog} {
		t.Run(string(act), func(t *testing.T) {
			o := runFiltered(t, denyAllBut(specs.ActErrno, onGetcwd(act, nil)), []call{getcwd(), getpriority(1000, 0)})
			wantErrnos(t, o, 0, unix.EPERM)
			if o.Results[0].Ret <= 0 {
				t.Fatalf("getcwd returned %d", o.Results[0].Ret)
			}
		})
	}
}

func TestActionTraceWithoutTracer(t *testing.T) {
	// With no tracer attached the kernel fails the call with ENOSYS.
	o := runFiltered(t, allowAllBut(onGetcwd(specs.ActTrace, uintp(42))), []call{getcwd()})
	wantErrnos(t, o, unix.ENOSYS)
}

func TestActionKillThread(t *testing.T) {
	for _, act := range []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillThread} {
		t.Run(string(act), func(t *testing.T) {
			o := runFiltered(t, allowAllBut(onGetcwd(act, nil)), []call{getcwd()})
			if !o.Timeout || o.Signal != 0 {
				t.Fatalf("want only the calling thread killed; got %+v", o)
			}
		})
	}
}

func TestActionKillProcess(t *testing.T) {
	o := runFiltered(t, allowAllBut(onGetcwd(specs.ActKillProcess, nil)), []call{getcwd()})
	if o.Signal != unix.SIGSYS {
		t.Fatalf("want the child killed by SIGSYS; got %+v", o)
	}
}

func TestActionTrap(t *testing.T) {
	// SIGSYS is delivered to the thread; Go's runtime dies of it (exit 2).
	o := runFiltered(t, allowAllBut(onGetcwd(specs.ActTrap, nil)), []call{getcwd()})
	if o.ExitCode != 2 || !strings.Contains(o.Stderr, "SIGSYS") {
		t.Fatalf("want a SIGSYS crash; got exit %d signal %v stderr %q", o.ExitCode, o.Signal, firstLine(o.Stderr))
	}
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

func onGetpriority(args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: []string{"getpriority"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EXDEV)), Args: args}
}

// getpriority with an invalid "which" fails with EINVAL when allowed, so
// EXDEV shows the rule matched and EINVAL that it did not.
func TestOperators(t *testing.T) {
	const v = 1000
	hi := int64(1)<<32 + v // same low word: the high word must be compared too
	values := []int64{v - 1, v, v + 1, hi}
	m, n := unix.EXDEV, unix.EINVAL
	for _, tc := range []struct {
		op   specs.LinuxSeccompOperator
		want []syscall.Errno
	}{
		{specs.OpNotEqual, []syscall.Errno{m, n, m, m}},
		{specs.OpLessThan, []syscall.Errno{m, n, n, n}},
		{specs.OpLessEqual, []syscall.Errno{m, m, n, n}},
		{specs.OpEqualTo, []syscall.Errno{n, m, n, n}},
		{specs.OpGreaterEqual, []syscall.Errno{n, m, m, m}},
		{specs.OpGreaterThan, []syscall.Errno{n, n, m, m}},
	} {
		t.Run(string(tc.op), func(t *testing.T) {
			var calls []call
			for _, x := range values {
				calls = append(calls, getpriority(x, 0))
			}
			o := runFiltered(t, allowAllBut(onGetpriority(specs.LinuxSeccompArg{Index: 0, Value: v, Op: tc.op})), calls)
			wantErrnos(t, o, tc.want...)
		})
	}
	t.Run(string(specs.OpMaskedEqual), func(t *testing.T) {
		// value is the mask, valueTwo what the masked argument must be.
		r := onGetpriority(specs.LinuxSeccompArg{Index: 0, Value: 0xf0, ValueTwo: 0x30, Op: specs.OpMaskedEqual})
		o := runFiltered(t, allowAllBut(r), []call{getpriority(0x130, 0), getpriority(0x140, 0), getpriority(0x1_0000_0f3f, 0)})
		wantErrnos(t, o, m, n, m)
	})
}

func TestArgsCombine(t *testing.T) {
	m, n := unix.EXDEV, unix.EINVAL
	eq := func(i uint, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: v, Op: specs.OpEqualTo}
	}
	t.Run("different args AND", func(t *testing.T) {
		o := runFiltered(t, allowAllBut(onGetpriority(eq(0, 1000), eq(1, 7))),
			[]call{getpriority(1000, 7), getpriority(1000, 8), getpriority(1001, 7)})
		wantErrnos(t, o, m, n, n)
	})
	t.Run("same arg OR", func(t *testing.T) {
		// runc's rule: tests of one argument in one rule are alternatives.
		o := runFiltered(t, allowAllBut(onGetpriority(eq(0, 1000), eq(0, 1001))),
			[]call{getpriority(1000, 0), getpriority(1001, 0), getpriority(1002, 0)})
		wantErrnos(t, o, m, m, n)
	})
	t.Run("same arg OR with another arg", func(t *testing.T) {
		// Every test becomes its own rule, the test of arg 1 too.
		o := runFiltered(t, allowAllBut(onGetpriority(eq(0, 1000), eq(0, 1001), eq(1, 7))),
			[]call{getpriority(1000, 0), getpriority(1002, 7), getpriority(1002, 0)})
		wantErrnos(t, o, m, m, n)
	})
	t.Run("several rules", func(t *testing.T) {
		o := runFiltered(t, allowAllBut(onGetpriority(eq(0, 1000)), onGetpriority(eq(0, 2000))),
			[]call{getpriority(1000, 0), getpriority(2000, 0), getpriority(3000, 0)})
		wantErrnos(t, o, m, m, n)
	})
}

func TestMkdiratModeRule(t *testing.T) {
	dir := t.TempDir()
	// Refuse world-writable directories.
	r := specs.LinuxSyscall{Names: []string{"mkdirat"}, Action: specs.ActErrno,
		Args: []specs.LinuxSeccompArg{{Index: 2, Value: 0o002, ValueTwo: 0o002, Op: specs.OpMaskedEqual}}}
	o := runFiltered(t, allowAllBut(r), []call{
		{Nr: unix.SYS_MKDIRAT, Args: [6]int64{unix.AT_FDCWD, 0, 0o777}, Path: filepath.Join(dir, "open")},
		{Nr: unix.SYS_MKDIRAT, Args: [6]int64{unix.AT_FDCWD, 0, 0o755}, Path: filepath.Join(dir, "closed")},
	})
	wantErrnos(t, o, unix.EPERM, 0)
	if _, err := os.Stat(filepath.Join(dir, "open")); !os.IsNotExist(err) {
		t.Errorf("denied mkdirat created the directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "closed")); err != nil {
		t.Errorf("allowed mkdirat: %v", err)
	}
}

func TestUnknownSyscallSkipped(t *testing.T) {
	r := specs.LinuxSyscall{Names: []string{"skiff_no_such_syscall", "getcwd"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EXDEV))}
	o := runFiltered(t, allowAllBut(r), []call{getcwd()})
	wantErrnos(t, o, unix.EXDEV)
}

func requireAMD64(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("syscall numbers below are x86_64's")
	}
}

// harnessAllow's highest x86_64 syscall is tgkill (234): calls above it
// that the profile does not name are "newer than the profile".
func TestEnosysFallback(t *testing.T) {
	requireAMD64(t)
	clone3 := call{Nr: unix.SYS_CLONE3}         // 435
	faccessat2 := call{Nr: unix.SYS_FACCESSAT2} // 439
	beyond := call{Nr: 1000}                    // no such syscall yet
	calls := []call{getcwd(), clone3, faccessat2, beyond}

	o := runFiltered(t, denyAllBut(specs.ActErrno), calls)
	wantErrnos(t, o, unix.EPERM, unix.ENOSYS, unix.ENOSYS, unix.ENOSYS)

	t.Run("a named newer syscall moves the bound", func(t *testing.T) {
		// openat2 (437) is named, so clone3 (435) is older than the profile.
		s := denyAllBut(specs.ActErrno, specs.LinuxSyscall{Names: []string{"openat2"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EXDEV))})
		o := runFiltered(t, s, calls)
		wantErrnos(t, o, unix.EPERM, unix.EPERM, unix.ENOSYS, unix.ENOSYS)
	})
	t.Run("kill default", func(t *testing.T) {
		o := runFiltered(t, denyAllBut(specs.ActKillProcess), []call{clone3, faccessat2})
		wantErrnos(t, o, unix.ENOSYS, unix.ENOSYS)
		o = runFiltered(t, denyAllBut(specs.ActKillProcess), []call{clone3, getcwd()})
		if o.Signal != unix.SIGSYS {
			t.Fatalf("getcwd under a kill default: want SIGSYS, got %+v", o)
		}
	})
	t.Run("unknown names do not count", func(t *testing.T) {
		s := denyAllBut(specs.ActErrno, specs.LinuxSyscall{Names: []string{"skiff_no_such_syscall"}, Action: specs.ActAllow})
		o := runFiltered(t, s, []call{clone3})
		wantErrnos(t, o, unix.ENOSYS)
	})
	t.Run("not for an allowing default", func(t *testing.T) {
		o := runFiltered(t, allowAllBut(onGetcwd(specs.ActErrno, nil)), []call{beyond, clone3})
		// The kernel itself says ENOSYS for 1000; clone3 with no
		// arguments is a real call that fails with EINVAL or EFAULT.
		if got := o.errnos(t); got[0] != unix.ENOSYS || got[1] == unix.ENOSYS {
			t.Fatalf("errnos = %v", fmtErrnos(got))
		}
	})
}

func TestDockerDefaultProfileRuns(t *testing.T) {
	requireAMD64(t)
	s := loadDockerProfile(t)
	o := runFiltered(t, s, []call{
		getcwd(),
		{Nr: unix.SYS_CLONE3},        // docker says ENOSYS itself
		{Nr: unix.SYS_KEXEC_LOAD},    // not allowed: EPERM
		{Nr: unix.SYS_MOUNT_SETATTR}, // 442, named (CAP_SYS_ADMIN rule not included): EPERM
		{Nr: 1000},                   // newer than the profile: ENOSYS
		getpriority(1000, 0),         // allowed: EINVAL from the kernel
		{Nr: unix.SYS_PERSONALITY, Args: [6]int64{0xffffffff}}, // allowed by an arg rule
	})
	wantErrnos(t, o, 0, unix.ENOSYS, unix.EPERM, unix.EPERM, unix.ENOSYS, unix.EINVAL, 0)
}

func loadDockerProfile(t testing.TB) *specs.LinuxSeccomp {
	b, err := os.ReadFile("testdata/docker-default.json")
	if err != nil {
		t.Fatal(err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestFlagsLoad(t *testing.T) {
	s := allowAllBut(onGetcwd(specs.ActErrno, nil))
	s.Flags = []specs.LinuxSeccompFlag{flagTsync, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv}
	prog, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	// No listener: WAIT_KILLABLE_RECV is dropped, TSYNC never set.
	if want := uint32(unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW); prog.Flags != want {
		t.Fatalf("flags = %#x, want %#x", prog.Flags, want)
	}
	wantErrnos(t, runProgram(t, prog, []call{getcwd()}), unix.EPERM)
}

// TestNotify runs a minimal agent here and checks that the child's
// SendListener delivers the state and a working notify fd.
func TestNotify(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	seen := startTestAgent(t, sock, unix.ENOSPC)

	s := allowAllBut(specs.LinuxSyscall{Names: []string{"mkdirat", "mkdir"}, Action: specs.ActNotify})
	s.ListenerPath, s.ListenerMetadata = sock, "meta=42"
	s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
	prog, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	want := uint32(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	if !prog.Listener || prog.Flags != want {
		t.Fatalf("Listener %v, Flags %#x; want true, %#x", prog.Listener, prog.Flags, want)
	}
	o := runProgram(t, prog, []call{
		{Nr: unix.SYS_MKDIRAT, Args: [6]int64{unix.AT_FDCWD, 0, 0o755}, Path: filepath.Join(dir, "d")},
		getcwd(),
	}, envListener+"="+sock, envMetadata+"=meta=42")
	wantErrnos(t, o, unix.ENOSPC, 0)

	got := <-seen
	if got.err != nil {
		t.Fatal(got.err)
	}
	st := got.state
	if st.Metadata != "meta=42" || len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName ||
		st.Version != specs.Version || st.State.ID != "seccomp-test" || st.Pid == 0 {
		t.Errorf("state = %+v", st)
	}
	if len(got.calls) != 1 || got.calls[0] != "mkdirat" {
		t.Errorf("agent saw %v, want [mkdirat]", got.calls)
	}
}

type agentSeen struct {
	state specs.ContainerProcessState
	calls []string
	err   error
}

func startTestAgent(t *testing.T, sock string, errno syscall.Errno) <-chan agentSeen {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	out := make(chan agentSeen, 1)
	go func() {
		var seen agentSeen
		defer func() { out <- seen }()
		conn, err := ln.AcceptUnix()
		if err != nil {
			seen.err = err
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 1<<16), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			seen.err = err
			return
		}
		var fds []int
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) == 1 {
			fds, _ = unix.ParseUnixRights(&msgs[0])
		}
		if len(fds) != 1 {
			seen.err = syscall.EBADMSG
			return
		}
		defer unix.Close(fds[0])
		if seen.err = json.Unmarshal(buf[:n], &seen.state); seen.err != nil {
			return
		}
		for {
			req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fds[0]))
			if err != nil {
				return // the child is gone
			}
			name, _ := req.Data.Syscall.GetNameByArch(req.Data.Arch)
			seen.calls = append(seen.calls, name)
			_ = libseccomp.NotifRespond(libseccomp.ScmpFd(fds[0]), &libseccomp.ScmpNotifResp{ID: req.ID, Error: int32(errno)})
		}
	}()
	return out
}
