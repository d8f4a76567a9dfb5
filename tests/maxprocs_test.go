package tests

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// cpusPrinter prints the CPUs it may run on, then waits for TERM.
const cpusPrinter = `trap "exit 0" TERM
echo cpus=$(grep Cpus_allowed_list /proc/self/status | cut -f2)
echo ready
while :; do sleep 0.05 & wait; done`

// cpusAllowed is the Cpus_allowed_list of /proc/PID/status or, with
// pid "self/task/TID", of a thread.
func cpusAllowed(t *testing.T, pid string) string {
	t.Helper()
	for _, line := range strings.Split(readString("/proc/"+pid+"/status"), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list in /proc/%s/status", pid)
	return ""
}

func cpusLine(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "cpus="); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no cpus line in:\n%s", out)
	return ""
}

// requireCPUs skips unless the tests may run on two CPUs or more: on one,
// skiff has nothing to narrow.
func requireCPUs(t *testing.T) {
	t.Helper()
	n := 0
	for _, part := range strings.Split(cpusAllowed(t, "self"), ",") {
		lo, hi, found := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if found {
			b, _ = strconv.Atoi(hi)
		}
		n += b - a + 1
	}
	if n < 2 {
		t.Skipf("the tests may run on %d CPU", n)
	}
}

// skiff's Go runtime starts on one CPU, so that it makes a single P
// (libcontainer/nsenter/maxprocs.c); --debug says so.
func TestGoRuntimeOneP(t *testing.T) {
	if !runtimeIsSkiff() {
		t.Skip("skiff's own runtime")
	}
	requireCPUs(t)
	out, _ := exec.Command(runtimeBin, "--root", t.TempDir(), "--debug", "state", "none").CombinedOutput()
	if !strings.Contains(string(out), "GOMAXPROCS 1\"") {
		t.Errorf("skiff --debug state: want \"go runtime: GOMAXPROCS 1\" in:\n%s", out)
	}
}

// skiff narrows its CPU affinity to one CPU while the Go runtime starts,
// but gives its caller's back before anything else: to each of its own
// threads, the container's process, a hook and an exec'd process.
func TestAffinityIsTheCallers(t *testing.T) {
	requireCPUs(t)
	caller := cpusAllowed(t, "self")
	dir := t.TempDir()
	c, hookOut := newCtrWithHook(t, dir, cpusPrinter, "grep Cpus_allowed_list /proc/self/status | cut -f2 | sed s/^/cpus=/")
	run, runOut, cancelRun := startForeground(t, c, dir, "run", "--bundle", c.Bundle, c.ID)
	defer cancelRun()
	if got := cpusLine(t, waitOutput(t, runOut, "ready")); got != caller {
		t.Errorf("the container's process may run on CPUs %s, want the caller's %s", got, caller)
	}
	if got := cpusLine(t, readString(hookOut)); got != caller {
		t.Errorf("a createRuntime hook may run on CPUs %s, want the caller's %s", got, caller)
	}
	pid := strconv.Itoa(run.Process.Pid)
	tasks, err := os.ReadDir("/proc/" + pid + "/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if got := cpusAllowed(t, pid+"/task/"+task.Name()); got != caller {
			t.Errorf("thread %s of skiff run may run on CPUs %s, want the caller's %s", task.Name(), got, caller)
		}
	}

	execCmd, execOut, cancelExec := startForeground(t, c, t.TempDir(), "exec", c.ID, "sh", "-c", cpusPrinter)
	defer cancelExec()
	if got := cpusLine(t, waitOutput(t, execOut, "ready")); got != caller {
		t.Errorf("an exec'd process may run on CPUs %s, want the caller's %s", got, caller)
	}
	terminate(t, execCmd, execOut)
	terminate(t, run, runOut)
	c.checkGone("after run")
}
