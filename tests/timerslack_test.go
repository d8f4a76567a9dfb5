package tests

import (
	"context"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// callerSlack is the timer slack the tests give skiff: not the kernel's
// default (50 us), and below the 20 ms skiff raises its own to.
const callerSlack = 70000

// withCallerSlack runs start (which forks the runtime) on a thread whose
// timer slack is callerSlack: the runtime inherits it.
func withCallerSlack(t *testing.T, start func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, callerSlack, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
	start()
}

// slackPrinter prints its timer slack, then waits for TERM.
const slackPrinter = `trap "exit 0" TERM
echo slack=$(cat /proc/self/timerslack_ns)
echo ready
while :; do sleep 0.05 & wait; done`

func slackOf(t *testing.T, out string) int {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "slack="); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("bad slack line %q", line)
			}
			return n
		}
	}
	t.Fatalf("no slack line in:\n%s", out)
	return 0
}

// skiff runs with a 20 ms timer slack (fewer wake-ups of Go's sysmon
// thread), but the container's process, an exec'd process and a hook
// get the slack of skiff's caller, as they would from runc.
func TestTimerSlackIsTheCallers(t *testing.T) {
	dir := t.TempDir()
	c, hookOut := newCtrWithHook(t, dir, slackPrinter, "echo slack=$(cat /proc/self/timerslack_ns)")
	var run *exec.Cmd
	var runOut string
	var cancelRun context.CancelFunc
	withCallerSlack(t, func() {
		run, runOut, cancelRun = startForeground(t, c, dir, "run", "--bundle", c.Bundle, c.ID)
	})
	defer cancelRun()
	out := waitOutput(t, runOut, "ready")
	if got := slackOf(t, out); got != callerSlack {
		t.Errorf("the container's process has timer slack %d, want the caller's %d", got, callerSlack)
	}
	if got := slackOf(t, readString(hookOut)); got != callerSlack {
		t.Errorf("a createRuntime hook has timer slack %d, want the caller's %d", got, callerSlack)
	}
	if got := strings.TrimSpace(readString("/proc/" + strconv.Itoa(run.Process.Pid) + "/timerslack_ns")); got != "20000000" {
		t.Errorf("skiff run's own timer slack is %s, want 20000000", got)
	}

	var execCmd *exec.Cmd
	var execOut string
	var cancelExec context.CancelFunc
	withCallerSlack(t, func() {
		execCmd, execOut, cancelExec = startForeground(t, c, t.TempDir(), "exec", c.ID, "sh", "-c", slackPrinter)
	})
	defer cancelExec()
	if got := slackOf(t, waitOutput(t, execOut, "ready")); got != callerSlack {
		t.Errorf("an exec'd process has timer slack %d, want the caller's %d", got, callerSlack)
	}
	terminate(t, execCmd, execOut)
	terminate(t, run, runOut)
	c.checkGone("after run")
}

// terminate sends a foreground runtime SIGTERM, which it relays to a
// slackPrinter, and waits for both to exit.
func terminate(t *testing.T, cmd *exec.Cmd, out string) {
	t.Helper()
	if err := cmd.Process.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitTracked(cmd); err != nil {
		t.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, readString(out))
	}
}
