package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func sleeper(s *specs.Spec) { s.Process.Args = []string{"/probe", "sleep", "600"} }

func TestLifecycle(t *testing.T) {
	c := newCtr(t, sleeper)
	c.create()
	st := c.mustState()
	if st.Status != "created" || st.Pid <= 0 {
		t.Fatalf("after create: status %q pid %d, want created with a pid", st.Status, st.Pid)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/status", st.Pid)); err != nil {
		t.Fatalf("created container's init is not alive: %v", err)
	}

	c.mustRun("start", c.ID)
	if got := c.mustState(); got.Status != "running" || got.Pid != st.Pid {
		t.Fatalf("after start: status %q pid %d, want running pid %d", got.Status, got.Pid, st.Pid)
	}
	if r := c.run("start", c.ID); r.Code == 0 {
		t.Errorf("start of a running container succeeded: %s", r)
	}
	if r := c.run("delete", c.ID); r.Code == 0 {
		t.Fatalf("delete of a running container without --force succeeded: %s", r)
	}
	if got := c.mustState(); got.Status != "running" {
		t.Fatalf("failed delete changed status to %q", got.Status)
	}

	c.mustRun("kill", c.ID, "KILL")
	ws, err := waitExit(st.Pid, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Errorf("init wait status %v, want killed by SIGKILL", ws)
	}
	if got := c.mustState(); got.Status != "stopped" {
		t.Fatalf("after kill: status %q, want stopped", got.Status)
	}
	if r := c.run("kill", c.ID, "KILL"); r.Code == 0 {
		t.Errorf("kill of a stopped container succeeded: %s", r)
	}

	c.mustRun("delete", c.ID)
	_, r := c.state()
	if r.Code == 0 || !strings.Contains(r.Stderr, "does not exist") {
		t.Errorf("state after delete: want failure saying the container does not exist, got %s", r)
	}
	c.checkGone("after delete")
}

func TestDeleteForce(t *testing.T) {
	c := newCtr(t, sleeper)
	c.create()
	c.mustRun("start", c.ID)
	pid := c.mustState().Pid
	c.mustRun("delete", "--force", c.ID)
	if _, err := waitExit(pid, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	c.checkGone("after delete --force")
}

func TestDeleteForceCreated(t *testing.T) {
	c := newCtr(t, sleeper)
	c.create()
	pid := c.mustState().Pid
	c.mustRun("delete", "--force", c.ID)
	if _, err := waitExit(pid, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	c.checkGone("after delete --force of a created container")
}

func TestRunExitCode(t *testing.T) {
	r := probeCmd(t, nil, "exit", "7")
	if r.Code != 7 {
		t.Fatalf("want exit 7: %s", r)
	}
}

// Without a PID namespace the shell is not a namespace init, so it can
// SIGKILL itself.
func TestRunKilledBySelf(t *testing.T) {
	c := newCtr(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "kill -9 $$"}
		s.Linux.Namespaces = withoutNamespace(s.Linux.Namespaces, specs.PIDNamespace)
	})
	if r := c.run("run", "--bundle", c.Bundle, c.ID); r.Code != 128+9 {
		t.Fatalf("want exit 137: %s", r)
	}
}

// A namespace init ignores SIGKILL from inside, so the kill comes from
// the runtime; the foreground run must report 128+9.
func TestRunKilledFromOutside(t *testing.T) {
	c := newCtr(t, sleeper)
	done := make(chan result, 1)
	go func() { done <- c.run("run", "--bundle", c.Bundle, c.ID) }()
	st := c.waitStatus("running")
	c.remember(st.Pid)
	c.mustRun("kill", c.ID, "KILL")
	select {
	case r := <-done:
		if r.Code != 128+9 {
			t.Fatalf("want exit 137: %s", r)
		}
	case <-time.After(cmdTimeout):
		t.Fatal("run did not return after its container was killed")
	}
}

func TestRunDetach(t *testing.T) {
	c := newCtr(t, sleeper)
	c.mustRun("run", "--detach", "--bundle", c.Bundle, c.ID)
	st := c.mustState()
	c.remember(st.Pid)
	if st.Status != "running" {
		t.Fatalf("after run -d: status %q, want running", st.Status)
	}
	if p := procStat(st.Pid); p.pid == 0 || p.state == 'Z' {
		t.Fatalf("init %d not alive after run -d", st.Pid)
	}
	c.mustRun("kill", c.ID, "KILL")
	if _, err := waitExit(st.Pid, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	c.mustRun("delete", c.ID)
	c.checkGone("after delete")
}

func TestRunKeep(t *testing.T) {
	c := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{"/probe", "exit", "3"} })
	if r := c.run("run", "--keep", "--bundle", c.Bundle, c.ID); r.Code != 3 {
		t.Fatalf("want exit 3: %s", r)
	}
	if st := c.mustState(); st.Status != "stopped" {
		t.Fatalf("after run --keep: status %q, want stopped", st.Status)
	}
	c.mustRun("delete", c.ID)
	c.checkGone("after delete")
}

func TestRunRemovesContainer(t *testing.T) {
	c := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{"/probe", "exit", "0"} })
	c.mustRun("run", "--bundle", c.Bundle, c.ID)
	c.checkGone("after run without --keep")
}

func TestStateJSON(t *testing.T) {
	c := newCtr(t, sleeper)
	before := time.Now()
	c.create()
	after := time.Now()
	r := c.mustRun("state", c.ID)
	var raw map[string]any
	unmarshal(t, r, &raw)
	for _, k := range []string{"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("state JSON lacks %q: %s", k, r.Stdout)
		}
	}
	st := c.mustState()
	if st.OCIVersion == "" || st.ID != c.ID || st.Status != "created" || st.Bundle != c.Bundle {
		t.Errorf("state %+v: want ociVersion, id %s, status created, bundle %s", st, c.ID, c.Bundle)
	}
	// runc leaves owner empty in `state` and fills it in `list`.
	if st.Owner != "" && st.Owner != "root" {
		t.Errorf("owner %q, want root or empty", st.Owner)
	}
	if st.Rootfs != c.Rootfs {
		t.Errorf("rootfs %q, want %q", st.Rootfs, c.Rootfs)
	}
	if st.Created.Before(before.Add(-time.Second)) || st.Created.After(after.Add(time.Second)) {
		t.Errorf("created %v not between %v and %v", st.Created, before, after)
	}
	if p := procStat(st.Pid); p.pid == 0 {
		t.Errorf("state pid %d does not exist", st.Pid)
	}
}

func TestList(t *testing.T) {
	a := newCtr(t, sleeper)
	b := newCtrIn(t, a.Root, sleeper)
	a.create()
	b.create()
	b.mustRun("start", b.ID)
	want := map[string]string{a.ID: "created", b.ID: "running"}

	table := a.mustRun("list")
	lines := strings.Split(strings.TrimSpace(table.Stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(strings.Join(strings.Fields(lines[0]), " "), "ID PID STATUS BUNDLE CREATED OWNER") {
		t.Errorf("list table: want a header and two rows:\n%s", table.Stdout)
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 6 || want[f[0]] != f[2] {
			t.Errorf("list table row %q: want one of %v", line, want)
		}
	}

	quiet := a.mustRun("list", "-q")
	ids := strings.Fields(quiet.Stdout)
	if len(ids) != 2 || want[ids[0]] == "" || want[ids[1]] == "" || ids[0] == ids[1] {
		t.Errorf("list -q: %q, want the two ids", quiet.Stdout)
	}

	js := a.mustRun("list", "--format", "json")
	var states []ociState
	if err := json.Unmarshal([]byte(js.Stdout), &states); err != nil {
		t.Fatalf("list --format json: %v\n%s", err, js.Stdout)
	}
	if len(states) != 2 {
		t.Fatalf("list --format json: %d entries, want 2", len(states))
	}
	for _, st := range states {
		bundle := a.Bundle
		if st.ID == b.ID {
			bundle = b.Bundle
		}
		if want[st.ID] != st.Status || st.Pid <= 0 || st.Bundle != bundle || st.Owner != "root" || st.Created.IsZero() {
			t.Errorf("list json entry %+v: want status %q, pid, bundle %s, owner root, created", st, want[st.ID], bundle)
		}
	}
}

func withoutNamespace(nss []specs.LinuxNamespace, typ specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range nss {
		if ns.Type != typ {
			out = append(out, ns)
		}
	}
	return out
}

// Without a PID namespace, what the container's processes orphan is
// re-parented to the foreground run, its subreaper, which must reap it
// while the container runs (runc does); with one, the init of the
// namespace reaps, and the run waits on the init's pidfd alone.
func TestRunReapsOrphans(t *testing.T) {
	dir := t.TempDir()
	c := newCtr(t, func(s *specs.Spec) {
		// The subshell exits at once; its sleep is orphaned and ends
		// 0.5 s later, while the shell itself lives on.
		s.Process.Args = []string{"sh", "-c", "(sleep 0.5 &); echo ready; sleep 5"}
		s.Linux.Namespaces = withoutNamespace(s.Linux.Namespaces, specs.PIDNamespace)
	})
	cmd, out, cancel := startForeground(t, c, dir, "run", "--bundle", c.Bundle, c.ID)
	defer cancel()
	waitOutput(t, out, "ready")
	run := cmd.Process.Pid
	// The shell may exec its last command: then the init, the run's child
	// too, is a "sleep" (5) as well, and must not be taken for the orphan.
	init := c.mustState().Pid
	orphan := 0
	for deadline := time.Now().Add(400 * time.Millisecond); orphan == 0 && time.Now().Before(deadline); {
		for _, p := range childrenOf(run) {
			if p.comm == "sleep" && p.state != 'Z' && p.pid != init {
				orphan = p.pid
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if orphan == 0 {
		t.Fatalf("the orphaned sleep was not re-parented to the run (pid %d): the test proves nothing", run)
	}
	// It ends 0.5 s after it started (later on a loaded machine, so wait
	// for its end rather than a fixed time); then the run has 1 s to reap
	// it. A zombie the run never collects is what this test is about.
	var zombieSince time.Time
	for deadline := time.Now().Add(4 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		p := procStat(orphan)
		if p.pid == 0 || p.ppid != run {
			break // reaped
		}
		if p.state == 'Z' && zombieSince.IsZero() {
			zombieSince = time.Now()
		}
		if !zombieSince.IsZero() && time.Since(zombieSince) > time.Second {
			t.Fatalf("the foreground run (pid %d) did not reap its adopted orphan within 1 s of its exit: %+v", run, p)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphaned sleep 0.5 (pid %d) still runs 4 s later: %+v", orphan, p)
		}
	}
	if err := cmd.Process.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = waitTracked(cmd)
	c.checkGone("after run")
}
