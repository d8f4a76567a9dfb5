package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/seccomp"
	"github.com/skiff-runtime/skiff/libcontainer/seccomp/seccomptest"
)

// The test runs the agent in this process and a child (this binary run
// again) that loads a notify filter, hands the fd over with
// seccomp.SendListener as skiff does, and calls mkdirat.

const envChild = "SECCOMPAGENT_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		child()
		return
	}
	os.Exit(m.Run())
}

// child: argv after "--": program file, socket, directory to create.
func child() {
	args := os.Args[len(os.Args)-3:]
	raw, err := os.ReadFile(args[0])
	if err != nil {
		panic(err)
	}
	flags := binary.LittleEndian.Uint32(raw)
	dir := append([]byte(args[2]), 0)
	runtime.LockOSThread()
	fd, err := seccomptest.Load(raw[4:], flags, true)
	if err != nil {
		panic(err)
	}
	st := specs.ContainerProcessState{
		Pid:      os.Getpid(),
		Metadata: "agent-test",
		State:    specs.State{Version: specs.Version, ID: "agent-test", Status: specs.StateCreated, Pid: os.Getpid(), Bundle: "/bundle"},
	}
	if err := seccomp.SendListener(args[1], fd, st); err != nil {
		panic(err)
	}
	unix.Close(fd)
	atFdcwd := unix.AT_FDCWD
	_, _, e := unix.RawSyscall(unix.SYS_MKDIRAT, uintptr(atFdcwd), uintptr(unsafe.Pointer(&dir[0])), 0o755)
	os.Stdout.WriteString(strconv.Itoa(int(e)) + "\n")
	os.Exit(0)
}

func TestAgent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		errno unix.Errno
	}{{"errno", unix.ENOSPC}, {"continue", 0}} {
		t.Run(tc.name, func(t *testing.T) { testAgent(t, tc.errno) })
	}
}

func testAgent(t *testing.T, errno unix.Errno) {
	dir := t.TempDir()
	sock, logPath := filepath.Join(dir, "agent.sock"), filepath.Join(dir, "agent.log")
	a, err := newAgent(sock, logPath, errno)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve() }()
	defer func() {
		a.Close()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()

	prog, err := seccomp.Compile(&specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     sock,
		ListenerMetadata: "agent-test",
		Syscalls:         []specs.LinuxSyscall{{Names: []string{"mkdirat", "mkdir"}, Action: specs.ActNotify}},
	})
	if err != nil {
		t.Fatal(err)
	}
	pf := filepath.Join(dir, "prog")
	if err := os.WriteFile(pf, append(binary.LittleEndian.AppendUint32(nil, prog.Flags), prog.Filter...), 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "made")
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", pf, sock, target)
	cmd.Env = append(os.Environ(), envChild+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	if got := string(bytes.TrimSpace(out)); got != strconv.Itoa(int(errno)) {
		t.Fatalf("mkdirat errno = %s, want %d", got, errno)
	}
	_, statErr := os.Stat(target)
	if (errno == 0) != (statErr == nil) {
		t.Errorf("errno %d but stat says %v", errno, statErr)
	}

	events := readEvents(t, logPath)
	if len(events) < 3 {
		t.Fatalf("events %+v: want state, notify, closed", events)
	}
	if e := events[0]; e.Event != "state" || e.State == nil || e.State.Metadata != "agent-test" ||
		e.State.State.ID != "agent-test" || len(e.State.Fds) != 1 || e.State.Fds[0] != "seccompFd" {
		t.Errorf("first event = %+v", e)
	}
	// One mkdirat may notify more than once: a signal to the child (the
	// Go runtime's preemption) while it waits for the answer restarts the
	// system call, which notifies again.
	for i, e := range events[1 : len(events)-1] {
		if e.Event != "notify" || e.Syscall != "mkdirat" || e.Errno == nil || *e.Errno != int(errno) ||
			len(e.Args) != 6 || e.Args[2] != 0o755 {
			t.Errorf("event %d = %+v, want a notify of mkdirat", i+1, e)
		}
	}
	if e := events[len(events)-1]; e.Event != "closed" {
		t.Errorf("last event = %+v", e)
	}
}

// readEvents waits for the "closed" event, which comes when the child
// is gone, and returns every event up to it.
func readEvents(t *testing.T, path string) []event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var events []event
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var e event
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("log line %q: %v", sc.Text(), err)
				}
				events = append(events, e)
			}
			f.Close()
		}
		if len(events) > 0 && events[len(events)-1].Event == "closed" {
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("log has %d events, none of them \"closed\" at the end: %+v", len(events), events)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
