package signals

import (
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]unix.Signal{
		"KILL": unix.SIGKILL, "SIGKILL": unix.SIGKILL, "kill": unix.SIGKILL, "sigusr1": unix.SIGUSR1,
		"Usr2": unix.SIGUSR2, "9": unix.SIGKILL, "0": 0, "999": 999,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"FOO", "", "SIG", "-"} {
		_, err := Parse(in)
		if err == nil || err.Error() != `unknown signal "`+in+`"` {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
}

func startChild(t *testing.T, args ...string) (pid, pidfd int) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid = cmd.Process.Pid
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		unix.Close(pidfd)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	})
	return pid, pidfd
}

func TestForwardExitCode(t *testing.T) {
	f := Notify()
	pid, pidfd := startChild(t, "sh", "-c", "exit 7")
	status, err := f.Forward(pid, pidfd)
	if err != nil || status != 7 {
		t.Fatalf("Forward = %d, %v; want 7", status, err)
	}
}

func TestForwardSignal(t *testing.T) {
	f := Notify()
	pid, pidfd := startChild(t, "sleep", "1000")
	// A signal sent to skiff is caught and passed on to the init, which
	// then dies of it.
	if err := unix.Kill(unix.Getpid(), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	status, err := f.Forward(pid, pidfd)
	if err != nil || status != 128+int(unix.SIGTERM) {
		t.Fatalf("Forward = %d, %v; want %d", status, err, 128+int(unix.SIGTERM))
	}
}

func TestWaitInitNotChild(t *testing.T) {
	if _, err := waitInit(1); err != ErrNotChild {
		t.Fatalf("waitInit(1) = %v", err)
	}
}

func TestWaitFDTimeout(t *testing.T) {
	_, pidfd := startChild(t, "sleep", "1000")
	if err := WaitFD(pidfd, 0); err != ErrTimeout {
		t.Fatalf("WaitFD on a live process: %v", err)
	}
	if err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := WaitFD(pidfd, -1); err != nil {
		t.Fatal(err)
	}
}
