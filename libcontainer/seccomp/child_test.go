package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/seccomp/seccomptest"
)

// The behaviour tests load filters for real: the test binary runs itself
// again as a child, which loads the program on one locked thread and
// makes the calls a test asks for, and the parent looks at the results,
// the exit status and the signal.

const (
	envChild    = "SKIFF_SECCOMP_TEST_CHILD"
	envProg     = "SKIFF_SECCOMP_TEST_PROG"
	envCalls    = "SKIFF_SECCOMP_TEST_CALLS"
	envListener = "SKIFF_SECCOMP_TEST_LISTENER"
	envMetadata = "SKIFF_SECCOMP_TEST_METADATA"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		childMain()
		return
	}
	// Tests that want the cache set their own directory.
	SetCacheDir("")
	os.Exit(m.Run())
}

// call is one raw syscall for the child to make. Path, if set, is passed
// as a pointer in argument 1; Buf, if set, is a buffer of that size
// passed as arguments 0 and 1 (getcwd's shape).
type call struct {
	Nr   uintptr
	Args [6]int64
	Path string
	Buf  int
}

type callResult struct {
	Ret   int64
	Errno int
}

type childReport struct {
	Results []callResult
	LoadErr string
	Timeout bool // the calling thread vanished (SCMP_ACT_KILL_THREAD) or hung
}

type outcome struct {
	childReport
	Signal   syscall.Signal // the child was killed by this signal
	ExitCode int
	Stderr   string
}

func childMain() {
	// A killed thread takes its P with it; keep others for main.
	runtime.GOMAXPROCS(4)
	debug.SetGCPercent(-1)
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	raw, err := os.ReadFile(os.Getenv(envProg))
	if err != nil {
		panic(err)
	}
	prog, err := decodeCacheFile(raw, [sha256.Size]byte{})
	if err != nil {
		panic(err)
	}
	var calls []call
	if err := json.Unmarshal([]byte(os.Getenv(envCalls)), &calls); err != nil {
		panic(err)
	}
	// Build every argument before the filter is in place.
	args := make([][6]uintptr, len(calls))
	var keep [][]byte
	for i, c := range calls {
		for j, a := range c.Args {
			args[i][j] = uintptr(a)
		}
		if c.Path != "" {
			p := append([]byte(c.Path), 0)
			keep = append(keep, p)
			args[i][1] = uintptr(unsafe.Pointer(&p[0]))
		}
		if c.Buf > 0 {
			b := make([]byte, c.Buf)
			keep = append(keep, b)
			args[i][0], args[i][1] = uintptr(unsafe.Pointer(&b[0])), uintptr(c.Buf)
		}
	}
	state := specs.ContainerProcessState{
		Pid:      os.Getpid(),
		Metadata: os.Getenv(envMetadata),
		State:    specs.State{Version: specs.Version, ID: "seccomp-test", Status: specs.StateCreating, Pid: os.Getpid(), Bundle: "/nonexistent"},
	}
	rep := childReport{Results: make([]callResult, len(calls))}
	done := make(chan struct{})
	tidc := make(chan int, 1)
	go func() {
		runtime.LockOSThread()
		tidc <- unix.Gettid()
		fd, err := seccomptest.Load(prog.Filter, prog.Flags, prog.Listener)
		if err == nil && prog.Listener {
			err = SendListener(os.Getenv(envListener), fd, state)
			unix.Close(fd)
		}
		if err != nil {
			rep.LoadErr = err.Error()
		} else {
			for i, c := range calls {
				a := args[i]
				r, _, e := unix.RawSyscall6(c.Nr, a[0], a[1], a[2], a[3], a[4], a[5])
				rep.Results[i] = callResult{int64(r), int(e)}
			}
		}
		close(done)
		// Never let this thread exit: the filter may deny exit.
		select {}
	}()
	task := fmt.Sprintf("/proc/self/task/%d", <-tidc)
	deadline := time.Now().Add(10 * time.Second)
wait:
	for {
		select {
		case <-done:
			break wait
		case <-time.After(10 * time.Millisecond):
		}
		// A dead thread disappears, or stays a zombie if it led the group.
		st, err := os.ReadFile(task + "/stat")
		if err != nil || bytes.Contains(st, []byte(") Z ")) || time.Now().After(deadline) {
			rep = childReport{Timeout: true}
			break
		}
	}
	runtime.KeepAlive(keep)
	out, _ := json.Marshal(&rep)
	os.Stdout.Write(append(out, '\n'))
	os.Exit(0)
}

// runFiltered compiles s, loads it in a child and makes calls there.
func runFiltered(t *testing.T, s *specs.LinuxSeccomp, calls []call, env ...string) outcome {
	t.Helper()
	prog, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return runProgram(t, prog, calls, env...)
}

func runProgram(t *testing.T, prog *Program, calls []call, env ...string) outcome {
	t.Helper()
	dir := t.TempDir()
	pf := filepath.Join(dir, "prog")
	if err := os.WriteFile(pf, encodeCacheFile([sha256.Size]byte{}, prog), 0o600); err != nil {
		t.Fatal(err)
	}
	cj, _ := json.Marshal(calls)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envProg+"="+pf, envCalls+"="+string(cj))
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("child hung; stderr:\n%s", stderr.String())
	}
	o := outcome{Stderr: stderr.String()}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		o.Signal = ws.Signal()
		return o
	case ws.Exited():
		o.ExitCode = ws.ExitStatus()
	}
	if o.ExitCode == 0 {
		if err := json.Unmarshal(stdout.Bytes(), &o.childReport); err != nil {
			t.Fatalf("child output %q: %v; stderr:\n%s", stdout.String(), err, o.Stderr)
		}
		if o.LoadErr != "" {
			t.Fatalf("child could not load the filter: %s", o.LoadErr)
		}
	}
	return o
}

// errnos returns each call's errno, for compact comparisons.
func (o outcome) errnos(t *testing.T) []syscall.Errno {
	t.Helper()
	if o.Signal != 0 || o.ExitCode != 0 || o.Timeout {
		t.Fatalf("child did not finish: signal %v, exit %d, timeout %v; stderr:\n%s", o.Signal, o.ExitCode, o.Timeout, o.Stderr)
	}
	r := make([]syscall.Errno, len(o.Results))
	for i, c := range o.Results {
		r[i] = syscall.Errno(c.Errno)
	}
	return r
}

func wantErrnos(t *testing.T, o outcome, want ...syscall.Errno) {
	t.Helper()
	got := o.errnos(t)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("errnos = %v, want %v", fmtErrnos(got), fmtErrnos(want))
	}
}

func fmtErrnos(es []syscall.Errno) string {
	var s []string
	for _, e := range es {
		if e == 0 {
			s = append(s, "ok")
		} else {
			s = append(s, unix.ErrnoName(e))
		}
	}
	return "[" + strings.Join(s, " ") + "]"
}

// harnessAllow is what the child's Go runtime may need on the filtered
// thread after the filter is in place, for deny-by-default profiles.
var harnessAllow = specs.LinuxSyscall{
	Action: specs.ActAllow,
	Names: []string{
		"futex", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "sched_yield",
		"nanosleep", "clock_nanosleep", "clock_gettime", "mmap", "munmap", "madvise", "mprotect",
		"getpid", "gettid", "tgkill", "exit", "exit_group", "write",
	},
}

func getcwd() call { return call{Nr: unix.SYS_GETCWD, Buf: 4096} }

func getpriority(which, who int64) call {
	return call{Nr: unix.SYS_GETPRIORITY, Args: [6]int64{which, who}}
}

func uintp(v uint) *uint { return &v }
