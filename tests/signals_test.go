package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// trapper prints the signals it gets (37 is SIGRTMIN+3, what engines
// send to stop a systemd container) and its own blocked-signal mask.
const trapper = `trap "echo got-TERM" TERM; trap "echo got-USR1" USR1; trap "echo got-HUP" HUP
trap "echo got-37; exit 7" 37
grep SigBlk /proc/self/status
echo ready
while :; do sleep 0.05 & wait; done`

// startForeground starts the runtime with args in the foreground, its
// stdout and stderr going to files in dir; the runtime's process is
// returned for signalling.
func startForeground(t *testing.T, c *ctr, dir string, args ...string) (*exec.Cmd, string, context.CancelFunc) {
	t.Helper()
	out := filepath.Join(dir, "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	full := append([]string{"--root", c.Root}, args...)
	cmd := exec.CommandContext(ctx, runtimeBin, full...)
	if wrapper := runtimeWrapper(); len(wrapper) > 0 {
		cmd = exec.CommandContext(ctx, wrapper[0], append(append(wrapper[1:], runtimeBin), full...)...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = cleanEnv()
	if err := startTracked(cmd); err != nil {
		cancel()
		t.Fatal(err)
	}
	// Stopping also waits: a test that failed before waiting for the
	// command must not leave it a zombie that later tests, which wait
	// for every zombie child to be reaped, would wait for in vain.
	stop := func() {
		cancel()
		_ = waitTracked(cmd)
	}
	return cmd, out, stop
}

// waitOutput waits until the file holds want.
func waitOutput(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if s := readString(path); strings.Contains(s, want) {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never saw %q; output:\n%s", want, readString(path))
	return ""
}

// sigBlkZero checks the SigBlk line the trapper printed.
func sigBlkZero(t *testing.T, out, who string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "SigBlk:") {
			if v := strings.TrimSpace(strings.TrimPrefix(line, "SigBlk:")); strings.Trim(v, "0") != "" {
				t.Errorf("%s starts with signals blocked: SigBlk %s", who, v)
			}
			return
		}
	}
	t.Errorf("%s printed no SigBlk line:\n%s", who, out)
}

// relayAndExit sends the runtime HUP, TERM and USR1 (each must reach
// the trapper) and then 37, on which the trapper exits 7; the runtime
// must exit 7 too.
func relayAndExit(t *testing.T, cmd *exec.Cmd, out string) {
	t.Helper()
	for _, s := range []struct {
		sig  unix.Signal
		seen string
	}{{unix.SIGHUP, "got-HUP"}, {unix.SIGTERM, "got-TERM"}, {unix.SIGUSR1, "got-USR1"}} {
		if err := cmd.Process.Signal(s.sig); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, out, s.seen)
	}
	if err := cmd.Process.Signal(unix.Signal(37)); err != nil {
		t.Fatal(err)
	}
	err := waitTracked(cmd)
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 7 {
		t.Fatalf("runtime: %v, want exit 7 (the container's); output:\n%s", err, readString(out))
	}
}

// A foreground run relays what it gets, real-time signals too, and
// nothing it blocks for that reaches the container's process or a hook.
func TestRunRelaysSignals(t *testing.T) {
	dir := t.TempDir()
	c, hookOut := newCtrWithHook(t, dir, trapper, "grep SigBlk /proc/self/status")
	cmd, out, cancel := startForeground(t, c, dir, "run", "--bundle", c.Bundle, c.ID)
	defer cancel()
	sigBlkZero(t, waitOutput(t, out, "ready"), "the container's process")
	sigBlkZero(t, readString(hookOut), "a createRuntime hook")
	relayAndExit(t, cmd, out)
	c.checkGone("after run")
}

// A foreground exec relays signals to its process the same way.
func TestExecRelaysSignals(t *testing.T) {
	dir := t.TempDir()
	c := newCtr(t, sleeper)
	c.mustRun("run", "--detach", "--bundle", c.Bundle, c.ID)
	c.remember(c.mustState().Pid)
	cmd, out, cancel := startForeground(t, c, dir, "exec", c.ID, "sh", "-c", trapper)
	defer cancel()
	sigBlkZero(t, waitOutput(t, out, "ready"), "the exec'd process")
	relayAndExit(t, cmd, out)
}
