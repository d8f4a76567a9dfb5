package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/contrib/probe/facts"
)

// recvtty is one contrib/recvtty process listening on sock.
type recvtty struct {
	sock string
	cmd  *exec.Cmd
	done chan error
}

// startRecvtty starts contrib/recvtty (built by `make recvtty`) on a
// fresh socket with the given stdio, and waits until it listens. With
// ctty, stdin becomes its controlling terminal, so that a resize of it
// sends recvtty SIGWINCH.
func startRecvtty(t *testing.T, stdin, stdout *os.File, ctty bool, args ...string) *recvtty {
	t.Helper()
	bin, _ := filepath.Abs(filepath.Join(envOr("SKIFF_BUILD_DIR", "../_build"), "recvtty"))
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%v; run make recvtty", err)
	}
	// Unix socket paths are short: not under t.TempDir().
	dir, err := os.MkdirTemp("", "skrt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &recvtty{sock: filepath.Join(dir, "sock"), done: make(chan error, 1)}
	pidFile := filepath.Join(dir, "pid")
	r.cmd = exec.Command(bin, append(append([]string{"--pid-file", pidFile}, args...), r.sock)...)
	r.cmd.Stdin, r.cmd.Stdout = stdin, stdout
	var stderr bytes.Buffer
	r.cmd.Stderr = &stderr
	if ctty {
		r.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
	if err := startTracked(r.cmd); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := waitTracked(r.cmd)
		if err != nil {
			err = fmt.Errorf("%w: %s", err, stderr.String())
		}
		r.done <- err
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for readString(pidFile) == "" {
		if time.Now().After(deadline) {
			t.Fatalf("recvtty never listened: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

// wait waits for recvtty to exit by itself, as it does once the
// container side of the terminal is gone.
func (r *recvtty) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != nil {
			t.Errorf("recvtty: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("recvtty did not exit after the container's terminal closed")
	}
}

// ptyPair is a terminal the test owns: the master and the slave.
type ptyPair struct {
	master console.Console
	slave  *os.File
	mu     sync.Mutex
	out    bytes.Buffer
}

func newPtyPair(t *testing.T, rows, cols uint16) *ptyPair {
	t.Helper()
	m, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	p := &ptyPair{master: m, slave: s}
	p.resize(t, rows, cols)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:max(n, 0)])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		s.Close()
		m.Close()
		<-done
	})
	return p
}

func (p *ptyPair) resize(t *testing.T, rows, cols uint16) {
	t.Helper()
	if err := p.master.Resize(console.WinSize{Height: rows, Width: cols}); err != nil {
		t.Fatal(err)
	}
}

func (p *ptyPair) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.ReplaceAll(p.out.String(), "\r", "")
}

// waitFor waits until the terminal has printed want, doing poke (if
// set) every 100ms meanwhile.
func (p *ptyPair) waitFor(t *testing.T, want string, poke func()) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(p.output(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q; it showed:\n%s", want, p.output())
		}
		if poke != nil {
			poke()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *ptyPair) termios(t *testing.T) *unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio
}

// The pty master goes to --console-socket (received by contrib/recvtty);
// inside, the process has the pty on stdio and as /dev/console, with
// process.consoleSize, and nothing else open.
func TestTTYConsoleSocketCreate(t *testing.T) {
	c := newCtr(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 33, Width: 77}
		s.Process.Args = []string{"sh", "-c", `tty; stty size; [ /dev/console -ef "$(tty)" ] && echo console-is-the-pty; /probe json; exit 3`}
	})
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	rt := startRecvtty(t, nil, out, false, "--no-stdin")
	c.create("--console-socket", rt.sock)
	pid := c.mustState().Pid
	c.mustRun("start", c.ID)
	ws, err := waitExit(pid, cmdTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if ws.ExitStatus() != 3 {
		t.Errorf("init exit status %v, want 3", ws)
	}
	rt.wait(t)
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(readString(out.Name()), "\r", "")), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "/dev/pts/") || lines[1] != "33 77" || lines[2] != "console-is-the-pty" {
		t.Fatalf("terminal output %q, want the tty's name, 33 77, console-is-the-pty and the probe's facts", lines)
	}
	var f facts.Facts
	if err := json.Unmarshal([]byte(lines[3]), &f); err != nil {
		t.Fatalf("probe output: %v: %q", err, lines[3])
	}
	checkFDs(t, &f, 3)
	for _, fd := range f.Fds {
		if fd.Target != lines[0] {
			t.Errorf("fd %d is %s, want the pty %s", fd.FD, fd.Target, lines[0])
		}
	}
}

// exec -t -d --console-socket: the exec'd process gets its own pty,
// sent to the socket, with the container's consoleSize (as runc).
func TestTTYExecConsoleSocket(t *testing.T) {
	c := runningCtr(t, func(s *specs.Spec) { s.Process.ConsoleSize = &specs.Box{Height: 21, Width: 61} })
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	rt := startRecvtty(t, nil, out, false, "--no-stdin")
	pidFile := filepath.Join(t.TempDir(), "pid")
	c.mustRun("exec", "-t", "-d", "--console-socket", rt.sock, "--pid-file", pidFile, c.ID, "sh", "-c", "tty; stty size; exit 4")
	pid, err := strconv.Atoi(readString(pidFile))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	ws, err := waitExit(pid, cmdTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if ws.ExitStatus() != 4 {
		t.Errorf("exec'd process exit status %v, want 4", ws)
	}
	rt.wait(t)
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(readString(out.Name()), "\r", "")), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "/dev/pts/") || lines[1] != "21 61" {
		t.Errorf("terminal output %q, want a /dev/pts name and 21 61", lines)
	}
	// runc's rules: a console socket only with a terminal and --detach.
	for _, args := range [][]string{
		{"exec", "-t", "--console-socket", rt.sock, c.ID, "true"},
		{"exec", "-d", "--console-socket", rt.sock, c.ID, "true"},
		{"exec", "-t", "-d", c.ID, "true"},
	} {
		if r := c.run(args...); r.Code == 0 {
			t.Errorf("accepted: %s", r)
		}
	}
}

// recvtty follows its own terminal's size: a resize of the test's pty
// reaches the container's, whose shell then prints the new size.
func TestTTYResizeThroughRecvtty(t *testing.T) {
	c := newCtr(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 33, Width: 77}
		s.Process.Args = []string{"sh", "-c", "while true; do stty size; sleep 0.1; done"}
	})
	term := newPtyPair(t, 24, 80)
	before := term.termios(t)
	rt := startRecvtty(t, term.slave, term.slave, true)
	c.create("--console-socket", rt.sock)
	c.mustRun("start", c.ID)
	term.waitFor(t, "24 80\n", nil)
	if now := term.termios(t); now.Lflag&(unix.ICANON|unix.ECHO) != 0 {
		t.Errorf("recvtty left its terminal in cooked mode: lflag %#x", now.Lflag)
	}
	term.resize(t, 40, 120)
	term.waitFor(t, "40 120\n", nil)
	c.mustRun("delete", "--force", c.ID)
	rt.wait(t)
	if after := term.termios(t); after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("recvtty did not restore its terminal: lflag %#x -> %#x", before.Lflag, after.Lflag)
	}
}

// `run` in the foreground with a terminal and no socket: skiff relays
// its own terminal (raw while it runs, restored after), passes window
// size changes on, and exits with the process's status.
func TestTTYRunForeground(t *testing.T) {
	c := newCtr(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"sh", "-c", `tty; stty size; while read line; do [ "$line" = q ] && exit 5; stty size; done`}
	})
	term := newPtyPair(t, 24, 80)
	before := term.termios(t)
	cmd := exec.Command(runtimeBin, "--root", c.Root, "run", "--bundle", c.Bundle, c.ID)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term.slave, term.slave, term.slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.Env = cleanEnv()
	if err := startTracked(cmd); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var runErr error
	go func() {
		runErr = waitTracked(cmd)
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
	})
	// The container's terminal starts with skiff's terminal's size.
	term.waitFor(t, "/dev/pts/0\n24 80\n", nil)
	if now := term.termios(t); now.Lflag&(unix.ICANON|unix.ECHO) != 0 {
		t.Errorf("skiff run left its terminal in cooked mode while relaying: lflag %#x", now.Lflag)
	}
	term.resize(t, 40, 120)
	term.waitFor(t, "40 120\n", func() { _, _ = term.master.Write([]byte("s\r")) })
	if _, err := term.master.Write([]byte("q\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if code := exitCode(runErr); code != 5 {
			t.Errorf("run exited %d (%v), want the process's 5; terminal:\n%s", code, runErr, term.output())
		}
	case <-time.After(cmdTimeout):
		t.Fatalf("run did not exit; terminal:\n%s", term.output())
	}
	if after := term.termios(t); after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("skiff run did not restore its terminal: lflag %#x -> %#x, iflag %#x -> %#x, oflag %#x -> %#x",
			before.Lflag, after.Lflag, before.Iflag, after.Iflag, before.Oflag, after.Oflag)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// Without a terminal, stdio is passed through unchanged: a pipe given to
// `run` is the very pipe the process writes to.
func TestNoTerminalStdioPassthrough(t *testing.T) {
	c := newCtr(t, nil)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", w.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runtimeBin, "--root", c.Root, "run", "--bundle", c.Bundle, c.ID)
	cmd.Stdout = w
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := startTracked(cmd); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var out bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		_, _ = out.ReadFrom(r)
	}()
	if err := waitTracked(cmd); err != nil {
		t.Fatalf("run: %v: %s", err, stderr.String())
	}
	<-readDone
	var f facts.Facts
	if err := json.Unmarshal(out.Bytes(), &f); err != nil {
		t.Fatalf("probe output: %v: %q", err, out.String())
	}
	checkFDs(t, &f, 3)
	if len(f.Fds) > 1 && f.Fds[1].Target != want {
		t.Errorf("the process's stdout is %s, want the pipe given to run, %s", f.Fds[1].Target, want)
	}
}
