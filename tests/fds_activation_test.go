package tests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/contrib/probe/facts"
)

func mustPipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// --preserve-fds passes the very pipe: what the host writes, the
// container reads from fd 3, and the other way round; for run, and for
// exec into a running container.
func TestPreserveFDsPipeData(t *testing.T) {
	t.Run("host to container", func(t *testing.T) {
		r, w := mustPipe(t)
		if _, err := w.WriteString("from-host\n"); err != nil {
			t.Fatal(err)
		}
		w.Close() // the container reads up to EOF
		c := newCtr(t, func(s *specs.Spec) {
			s.Process.Args = []string{"sh", "-c", "cat <&3; exec /probe json"}
		})
		res := c.runWith(runOpts{extraFiles: []*os.File{r}}, "run", "--preserve-fds", "1", "--bundle", c.Bundle, c.ID)
		data, rest, _ := strings.Cut(res.Stdout, "\n")
		if res.Code != 0 || data != "from-host" {
			t.Fatalf("want the host's data, then the probe's facts: %s", res)
		}
		res.Stdout = rest
		checkFDs(t, parseFacts(t, res), 4)
	})
	t.Run("container to host", func(t *testing.T) {
		r, w := mustPipe(t)
		c := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", "echo from-ctr >&3"} })
		res := c.runWith(runOpts{extraFiles: []*os.File{w}}, "run", "--preserve-fds", "1", "--bundle", c.Bundle, c.ID)
		if res.Code != 0 {
			t.Fatalf("%s", res)
		}
		w.Close()
		if got := readAll(t, r); got != "from-ctr\n" {
			t.Errorf("the host read %q from the pipe, want from-ctr", got)
		}
	})
	t.Run("exec", func(t *testing.T) {
		c := runningCtr(t, nil)
		r, w := mustPipe(t)
		res := c.runWith(runOpts{extraFiles: []*os.File{w}}, "exec", "--preserve-fds", "1", c.ID, "sh", "-c", "echo from-exec >&3; exec /probe json")
		if res.Code != 0 {
			t.Fatalf("%s", res)
		}
		checkFDs(t, parseFacts(t, res), 4)
		w.Close()
		if got := readAll(t, r); got != "from-exec\n" {
			t.Errorf("the host read %q from the pipe, want from-exec", got)
		}
		// Without the flag, fd 3 of skiff stays outside.
		res = c.runWith(runOpts{extraFiles: []*os.File{w}}, "exec", c.ID, "/probe", "json")
		if res.Code != 0 {
			t.Fatalf("%s", res)
		}
		checkFDs(t, parseFacts(t, res), 3)
	})
}

func readAll(t *testing.T, r *os.File) string {
	t.Helper()
	if err := r.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		// Pipes from os.Pipe support deadlines; if not, read anyway.
		t.Logf("read deadline: %v", err)
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// setListenPID makes the runtime's LISTEN_PID its own pid, as systemd
// does for the service it starts: the wrapping sh execs the runtime.
var setListenPID = []string{"/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$@"`, "sh"}

// listener is a listening unix socket, as systemd would pass one.
func listener(t *testing.T) (*os.File, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "skls")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); l.Close(); os.RemoveAll(dir) })
	target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return f, target
}

// runProbe runs (or creates and starts) a probe container with opts and
// extra runtime flags, and returns its facts.
func runProbe(t *testing.T, cmd string, opts runOpts, extra ...string) *facts.Facts {
	t.Helper()
	c := newCtr(t, nil)
	args := append(append([]string{cmd}, extra...), "--bundle", c.Bundle, c.ID)
	res := c.runWith(opts, args...)
	if res.Code != 0 {
		t.Fatalf("%s", res)
	}
	if cmd == "create" {
		pid := c.mustState().Pid
		c.remember(pid)
		c.mustRun("start", c.ID)
		if _, err := waitExit(pid, cmdTimeout); err != nil {
			t.Fatal(err)
		}
		res.Stdout = readString(res.StdoutPath)
	}
	return parseFacts(t, res)
}

// Socket activation as runc does it: with LISTEN_FDS=N and LISTEN_PID
// naming skiff, fds 3..3+N-1 go to the container's init before any
// --preserve-fds ones, and its env says LISTEN_FDS=N, LISTEN_PID=1.
func TestListenFDs(t *testing.T) {
	sock, sockTarget := listener(t)
	_, pipe := mustPipe(t)
	pipeTarget, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", pipe.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	activated := runOpts{extraFiles: []*os.File{sock, pipe}, env: []string{"LISTEN_FDS=1"}, wrapper: setListenPID}
	for _, cmd := range []string{"run", "create"} {
		t.Run(cmd, func(t *testing.T) {
			f := runProbe(t, cmd, activated)
			checkFDs(t, f, 4)
			if len(f.Fds) == 4 && f.Fds[3].Target != sockTarget {
				t.Errorf("fd 3 is %s, want the listening socket %s", f.Fds[3].Target, sockTarget)
			}
			checkEnv(t, f, []string{"LISTEN_FDS=1", "LISTEN_PID=1"})

			f = runProbe(t, cmd, activated, "--preserve-fds", "1")
			checkFDs(t, f, 5)
			if len(f.Fds) == 5 && (f.Fds[3].Target != sockTarget || f.Fds[4].Target != pipeTarget) {
				t.Errorf("fds 3, 4 are %s, %s; want the socket %s, then the preserved pipe %s",
					f.Fds[3].Target, f.Fds[4].Target, sockTarget, pipeTarget)
			}
			checkEnv(t, f, []string{"LISTEN_FDS=1", "LISTEN_PID=1"})
		})
	}
	// LISTEN_PID of another process: the variables were inherited, the
	// fds are not skiff's to pass (systemd's rule, and runc's).
	t.Run("other LISTEN_PID", func(t *testing.T) {
		f := runProbe(t, "run", runOpts{extraFiles: []*os.File{sock}, env: []string{"LISTEN_FDS=1", "LISTEN_PID=1"}})
		checkFDs(t, f, 3)
		for _, kv := range f.Env {
			if strings.HasPrefix(kv, "LISTEN_") {
				t.Errorf("the container got %s for fds it did not get", kv)
			}
		}
	})
	// exec starts from the config's process: no activation fds, as runc.
	t.Run("exec", func(t *testing.T) {
		c := runningCtr(t, nil)
		res := c.runWith(activated, "exec", c.ID, "/probe", "json")
		if res.Code != 0 {
			t.Fatalf("%s", res)
		}
		f := parseFacts(t, res)
		checkFDs(t, f, 3)
		for _, kv := range f.Env {
			if strings.HasPrefix(kv, "LISTEN_") {
				t.Errorf("exec'd process has %s", kv)
			}
		}
	})
}

// pidfdReceived is what a --pidfd-socket listener got.
type pidfdReceived struct {
	kind  string
	pidfd int
	// From the pidfd's fdinfo when it arrived: the host pid and the pid
	// in the innermost namespace.
	pid, nsPid int
	err        error
}

// pidfdSocket listens for one pidfd, as an engine does with runc 1.2's
// --pidfd-socket.
func pidfdSocket(t *testing.T) (string, <-chan pidfdReceived) {
	t.Helper()
	dir, err := os.MkdirTemp("", "skpf")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan pidfdReceived, 1)
	go func() {
		ch <- receivePidfd(l)
	}()
	t.Cleanup(func() {
		l.Close()
		os.RemoveAll(dir)
	})
	return path, ch
}

func receivePidfd(l *net.UnixListener) pidfdReceived {
	conn, err := l.AcceptUnix()
	if err != nil {
		return pidfdReceived{err: err}
	}
	defer conn.Close()
	buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return pidfdReceived{err: err}
	}
	got := pidfdReceived{kind: string(buf[:n]), pidfd: -1}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return pidfdReceived{err: err}
	}
	for i := range msgs {
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if got.pidfd < 0 {
				got.pidfd = fd
			} else {
				unix.Close(fd)
				got.err = fmt.Errorf("more than one fd received")
			}
		}
	}
	if got.pidfd < 0 {
		got.err = fmt.Errorf("message %q carried no fd", got.kind)
		return got
	}
	for _, line := range strings.Split(readString(fmt.Sprintf("/proc/self/fdinfo/%d", got.pidfd)), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		switch {
		case k == "Pid" && len(f) == 1:
			got.pid, _ = strconv.Atoi(f[0])
		case k == "NSpid" && len(f) > 0:
			got.nsPid, _ = strconv.Atoi(f[len(f)-1])
		}
	}
	return got
}

func waitPidfd(t *testing.T, ch <-chan pidfdReceived) pidfdReceived {
	t.Helper()
	select {
	case got := <-ch:
		if got.err != nil {
			t.Fatalf("pidfd socket: %v", got.err)
		}
		t.Cleanup(func() { unix.Close(got.pidfd) })
		return got
	case <-time.After(10 * time.Second):
		t.Fatalf("no pidfd arrived on the socket")
	}
	return pidfdReceived{}
}

// --pidfd-socket (runc 1.2): the engine gets a pidfd of the container's
// init (create, run -d: "standard") or of the exec'd process ("setns"),
// one it can signal the process through.
func TestPidfdSocket(t *testing.T) {
	for _, cmd := range [][]string{{"create"}, {"run", "-d"}} {
		t.Run(cmd[0], func(t *testing.T) {
			c := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "600"} })
			sock, ch := pidfdSocket(t)
			c.mustRun(append(cmd, "--pidfd-socket", sock, "--bundle", c.Bundle, c.ID)...)
			st := c.mustState()
			c.remember(st.Pid)
			got := waitPidfd(t, ch)
			if got.kind != "standard" || got.pid != st.Pid {
				t.Errorf("received %q for pid %d, want \"standard\" for the init %d", got.kind, got.pid, st.Pid)
			}
			if err := unix.PidfdSendSignal(got.pidfd, unix.SIGKILL, nil, 0); err != nil {
				t.Fatalf("pidfd_send_signal: %v", err)
			}
			c.waitStatus("stopped")
		})
	}
	t.Run("exec detached", func(t *testing.T) {
		c := runningCtr(t, nil)
		sock, ch := pidfdSocket(t)
		pidFile := filepath.Join(t.TempDir(), "pid")
		c.mustRun("exec", "-d", "--pid-file", pidFile, "--pidfd-socket", sock, c.ID, "sleep", "600")
		pid, err := strconv.Atoi(readString(pidFile))
		if err != nil {
			t.Fatal(err)
		}
		c.remember(pid)
		got := waitPidfd(t, ch)
		if got.kind != "setns" || got.pid != pid {
			t.Errorf("received %q for pid %d, want \"setns\" for the exec'd %d", got.kind, got.pid, pid)
		}
		if err := unix.PidfdSendSignal(got.pidfd, unix.SIGKILL, nil, 0); err != nil {
			t.Fatalf("pidfd_send_signal: %v", err)
		}
		if _, err := waitExit(pid, cmdTimeout); err != nil {
			t.Error(err)
		}
	})
	t.Run("exec", func(t *testing.T) {
		c := runningCtr(t, nil)
		sock, ch := pidfdSocket(t)
		r := c.mustRun("exec", "--pidfd-socket", sock, c.ID, "sh", "-c", "echo $$; sleep 1")
		got := waitPidfd(t, ch)
		if got.kind != "setns" || strconv.Itoa(got.nsPid) != strings.TrimSpace(r.Stdout) {
			t.Errorf("received %q for the process %d in the container, want \"setns\" for %s", got.kind, got.nsPid, r.Stdout)
		}
	})
	t.Run("bad socket", func(t *testing.T) {
		c := newCtr(t, sleeper)
		missing := filepath.Join(t.TempDir(), "no-such-socket")
		if r := c.run("create", "--pidfd-socket", missing, "--bundle", c.Bundle, c.ID); r.Code == 0 || !strings.Contains(r.Stderr, "pidfd-socket") {
			t.Errorf("create with a missing pidfd socket: want a failure naming the flag: %s", r)
		}
		if _, r := c.state(); r.Code == 0 {
			t.Errorf("the container exists after the failed create")
		}
		a := runningCtr(t, nil)
		if r := a.run("exec", "--pidfd-socket", missing, a.ID, "true"); r.Code != 255 {
			t.Errorf("exec with a missing pidfd socket: want exit 255: %s", r)
		}
	})
}
