package libcontainer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// fakeContainer makes a state dir with exec.fifo and a stand-in init:
// a shell running script with the fifo open read-write on fd 3, as the
// real init has it. Like the real init, `head -c1 <&3` blocks until
// `start` writes.
func fakeContainer(t *testing.T, id, script string) (root string, st *state.State) {
	t.Helper()
	root = t.TempDir()
	dir, err := state.CreateDir(root, id)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, state.ExecFifo)
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = []string{"FIFO=" + fifo, "PATH=" + os.Getenv("PATH")}
	cmd.ExtraFiles = []*os.File{f}
	// In a group of its own: the shell's children (head) are not in a
	// pid namespace that dies with the stand-in init, and Destroy kills
	// only the init; the cleanup kills the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = unix.Kill(-pid, unix.SIGKILL)
		_ = cmd.Wait()
	})
	start, err := state.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	st = &state.State{
		ID: id, InitPID: pid, InitStartTime: start,
		Config: &configs.Config{Namespaces: []configs.Namespace{{Type: configs.NEWPID}}},
	}
	if err := state.Save(root, st); err != nil {
		t.Fatal(err)
	}
	return root, st
}

func TestStart(t *testing.T) {
	root, st := fakeContainer(t, "c1", `head -c1 <&3 >/dev/null; exec 3>&-; exec sleep 1000`)
	if s := st.Status(root); s != state.Created {
		t.Fatalf("status before start: %s", s)
	}
	if err := Start(root, st); err != nil {
		t.Fatal(err)
	}
	if s := st.Status(root); s != state.Running {
		t.Errorf("status after start: %s", s)
	}
	saved, err := state.Load(root, "c1")
	if err != nil || saved.Status(root) != state.Running {
		t.Errorf("saved state: %+v, %v", saved, err)
	}
	if err := Start(root, st); err == nil || err.Error() != "cannot start an already running container" {
		t.Errorf("second start: %v", err)
	}
}

func TestStartInitDead(t *testing.T) {
	// Once the init is gone nobody holds the fifo: start fails at once
	// instead of writing into a pipe nobody reads.
	root, st := fakeContainer(t, "c1", `exec sleep 1000`)
	pidfd, err := unix.PidfdOpen(st.InitPID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	if err := unix.Kill(st.InitPID, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 5000); err != nil {
		t.Fatal(err)
	}
	err = Start(root, st)
	if err == nil || (err.Error() != "container process is already dead" &&
		err.Error() != "cannot start a container that has stopped") {
		t.Fatalf("start of a dead init: %v", err)
	}
}

func TestStartStopped(t *testing.T) {
	root, st := fakeContainer(t, "c1", `exec sleep 1000`)
	if err := unix.Kill(st.InitPID, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitExit(t, st.InitPID)
	if err := Start(root, st); err == nil || err.Error() != "cannot start a container that has stopped" {
		t.Fatalf("start of a stopped container: %v", err)
	}
}

func TestKill(t *testing.T) {
	root, st := fakeContainer(t, "c1", `exec sleep 1000`)
	if err := Kill(root, st, 0, false); err != nil {
		t.Fatalf("signal 0: %v", err)
	}
	if err := Kill(root, st, unix.Signal(999), false); err == nil || !strings.HasPrefix(err.Error(), "unable to signal init: ") {
		t.Errorf("signal 999: %v", err)
	}
	if err := Kill(root, st, unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	waitExit(t, st.InitPID)
	if err := Kill(root, st, unix.SIGTERM, false); err != ErrNotRunning {
		t.Errorf("kill of a stopped container: %v", err)
	}
	// No cgroup, stopped: --all has nothing to signal.
	if err := Kill(root, st, unix.SIGTERM, true); err != ErrNotRunning {
		t.Errorf("kill --all of a stopped container without cgroup: %v", err)
	}
}

func TestDestroy(t *testing.T) {
	// A created container goes without --force.
	root, st := fakeContainer(t, "c1", `head -c1 <&3 >/dev/null; exec 3>&-; exec sleep 1000`)
	if err := Destroy(root, st, false); err != nil {
		t.Fatal(err)
	}
	if st.InitAlive() {
		t.Error("init still alive")
	}
	if _, err := os.Stat(state.Dir(root, "c1")); !os.IsNotExist(err) {
		t.Errorf("state dir: %v", err)
	}

	// A running one only with --force.
	root, st = fakeContainer(t, "c2", `head -c1 <&3 >/dev/null; exec 3>&-; exec sleep 1000`)
	if err := Start(root, st); err != nil {
		t.Fatal(err)
	}
	err := Destroy(root, st, false)
	if err == nil || err.Error() != "cannot delete container c2 that is not stopped: running" {
		t.Fatalf("delete of a running container: %v", err)
	}
	if err := Destroy(root, st, true); err != nil {
		t.Fatal(err)
	}
	if st.InitAlive() {
		t.Error("init still alive after forced delete")
	}
	if _, err := state.Load(root, "c2"); err != state.ErrNotExist {
		t.Errorf("load after delete: %v", err)
	}
}

// waitExit waits for a process to exit (it then is a zombie of ours).
func waitExit(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return
		}
	}
}

// Start relies on Linux not reporting POLLHUP on a fifo that no writer
// has opened yet.
func TestFifoNoHangupBeforeWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 0); err != nil || n != 0 {
		t.Fatalf("poll before any writer: n=%d revents=%#x err=%v", n, fds[0].Revents, err)
	}
}
