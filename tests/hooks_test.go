package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hookScript records one hook run: the state on its stdin as KIND.json,
// and a line "KIND mnt=<mount ns> var=<HOOKVAR> pidcmd=<cmdline of the
// state's pid>" appended to log, all in $DIR. It is plain sh, so the
// same text runs on the host (dash) and in the container (busybox).
const hookScript = `#!/bin/sh
kind=$1
cat > "$DIR/$kind.json"
pid=$(sed -n 's/.*"pid":\([0-9][0-9]*\).*/\1/p' "$DIR/$kind.json")
cmd=
[ -n "$pid" ] && cmd=$(tr '\0' ' ' < /proc/$pid/cmdline)
echo "$kind mnt=$(readlink /proc/self/ns/mnt) var=$HOOKVAR pidcmd=$cmd" >> "$DIR/log"
`

// hookLine is one parsed line of the hooks' log.
type hookLine struct {
	kind, mnt, hookVar, pidCmd string
}

func readHookLog(t *testing.T, path string) []hookLine {
	t.Helper()
	var out []hookLine
	for _, l := range strings.Split(strings.TrimSpace(readString(path)), "\n") {
		if l == "" {
			continue
		}
		var h hookLine
		head, pidCmd, _ := strings.Cut(l, " pidcmd=")
		h.pidCmd = strings.TrimSpace(pidCmd)
		for i, f := range strings.Fields(head) {
			switch {
			case i == 0:
				h.kind = f
			case strings.HasPrefix(f, "mnt="):
				h.mnt = strings.TrimPrefix(f, "mnt=")
			case strings.HasPrefix(f, "var="):
				h.hookVar = strings.TrimPrefix(f, "var=")
			}
		}
		out = append(out, h)
	}
	return out
}

func indexOfKind(lines []hookLine, kind string) int {
	for i, l := range lines {
		if l.kind == kind {
			return i
		}
	}
	return -1
}

// Every hook kind runs once, in the spec's order, in the namespaces
// runtime-spec v1.3.0 gives it, with the state on stdin, its args and
// its env (and nothing else of skiff's environment).
func TestHooksAllKinds(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(host, []byte(hookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	hook := func(path, kind, dirInside string) specs.Hook {
		return specs.Hook{Path: path, Args: []string{"hook", kind}, Env: []string{"DIR=" + dirInside, "HOOKVAR=v-" + kind}}
	}
	c := newCtr(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "echo process mnt=$(readlink /proc/self/ns/mnt) >> /hooklog/log; exec sleep 600"}
		s.Annotations = map[string]string{"org.skiff.test": "hooks"}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: dir, Options: []string{"rbind", "rw"}})
		s.Hooks = &specs.Hooks{
			Prestart:      []specs.Hook{hook(host, "prestart", dir)}, //nolint:staticcheck // deprecated, still run
			CreateRuntime: []specs.Hook{hook(host, "createRuntime", dir)},
			// Resolved before pivot_root: the host's path.
			CreateContainer: []specs.Hook{hook(host, "createContainer", dir)},
			// Resolved in the container.
			StartContainer: []specs.Hook{hook("/hooks/hook.sh", "startContainer", "/hooklog")},
			Poststart:      []specs.Hook{hook(host, "poststart", dir)},
			Poststop:       []specs.Hook{hook(host, "poststop", dir)},
		}
	})
	if err := os.MkdirAll(filepath.Join(c.Rootfs, "hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Rootfs, "hooks", "hook.sh"), []byte(hookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "log")

	c.create()
	pid := c.mustState().Pid
	ctrMnt, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		t.Fatal(err)
	}
	if ctrMnt == hostNS["mnt"] {
		t.Fatalf("the container has the host's mount namespace: the test proves nothing")
	}
	after := readHookLog(t, logPath)
	if got := kinds(after); got != "prestart createRuntime createContainer" {
		t.Errorf("after create the hooks that ran are %q, want prestart createRuntime createContainer", got)
	}

	c.mustRun("start", c.ID)
	// poststart has run when start returns.
	lines := readHookLog(t, logPath)
	deadline := time.Now().Add(10 * time.Second)
	for indexOfKind(lines, "process") < 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		lines = readHookLog(t, logPath)
	}
	if i, j := indexOfKind(lines, "startContainer"), indexOfKind(lines, "process"); i < 0 || j < 0 || i > j {
		t.Errorf("startContainer (line %d) must run before the process writes (line %d): %v", i, j, lines)
	}
	if indexOfKind(lines, "poststart") < 0 {
		t.Errorf("poststart had not run when start returned: %v", lines)
	}
	c.mustRun("delete", "--force", c.ID)
	lines = readHookLog(t, logPath)
	t.Logf("hooks' log:\n%s", readString(logPath))

	wantMnt := map[string]string{
		"prestart": hostNS["mnt"], "createRuntime": hostNS["mnt"], "poststart": hostNS["mnt"], "poststop": hostNS["mnt"],
		"createContainer": ctrMnt, "startContainer": ctrMnt, "process": ctrMnt,
	}
	wantStatus := map[string][]string{
		// runc gives prestart "created"; the spec leaves it open.
		"prestart": {"creating", "created"}, "createRuntime": {"creating"}, "createContainer": {"creating"},
		"startContainer": {"created"}, "poststart": {"running"}, "poststop": {"stopped"},
	}
	order := []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
	last := -1
	for _, kind := range order {
		i := indexOfKind(lines, kind)
		if i < 0 {
			t.Errorf("%s never ran: %v", kind, lines)
			continue
		}
		if i < last {
			t.Errorf("%s ran out of order: %v", kind, kinds(lines))
		}
		last = i
		l := lines[i]
		if l.mnt != wantMnt[kind] {
			t.Errorf("%s ran in mount namespace %s, want %s (host %s, container %s)", kind, l.mnt, wantMnt[kind], hostNS["mnt"], ctrMnt)
		}
		if l.hookVar != "v-"+kind {
			t.Errorf("%s: HOOKVAR=%q, want its own env's v-%s", kind, l.hookVar, kind)
		}
		var st specs.State
		stPath := filepath.Join(dir, kind+".json")
		if err := json.Unmarshal([]byte(readString(stPath)), &st); err != nil {
			t.Errorf("%s: state on stdin is not JSON: %v: %q", kind, err, readString(stPath))
			continue
		}
		if st.ID != c.ID || st.Bundle != c.Bundle || st.Version == "" || st.Annotations["org.skiff.test"] != "hooks" {
			t.Errorf("%s: state %+v, want id %s bundle %s, a version and the annotations", kind, st, c.ID, c.Bundle)
		}
		if !contains(wantStatus[kind], string(st.Status)) {
			t.Errorf("%s: status %q, want one of %v", kind, st.Status, wantStatus[kind])
		}
		if kind != "poststop" && st.Pid != pid {
			t.Errorf("%s: pid %d, want the init's %d", kind, st.Pid, pid)
		}
	}
	if i := indexOfKind(lines, "poststart"); i >= 0 && strings.HasPrefix(lines[i].pidCmd, "skiff") {
		t.Errorf("poststart ran while the init was still skiff's (%q): the process had not been executed", lines[i].pidCmd)
	}
	if n := strings.Count(readString(logPath), "\n"); n != len(order)+1 {
		t.Errorf("%d log lines, want one per hook and the process's:\n%s", n, readString(logPath))
	}
}

func kinds(lines []hookLine) string {
	var k []string
	for _, l := range lines {
		k = append(k, l.kind)
	}
	return strings.Join(k, " ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A hook that outlives its timeout is killed and fails the operation
// soon after the timeout, for hooks run on the host and in the
// container alike; nothing of the container is left.
func TestHookTimeout(t *testing.T) {
	sleepHook := specs.Hook{Path: "/bin/sleep", Args: []string{"sleep", "60"}, Timeout: intPtr(1)}
	for _, tc := range []struct {
		kind string
		set  func(*specs.Hooks)
	}{
		{"createRuntime", func(h *specs.Hooks) { h.CreateRuntime = []specs.Hook{sleepHook} }},
		{"createContainer", func(h *specs.Hooks) { h.CreateContainer = []specs.Hook{sleepHook} }},
		{"prestart", func(h *specs.Hooks) { h.Prestart = []specs.Hook{sleepHook} }}, //nolint:staticcheck // deprecated, still run
	} {
		t.Run(tc.kind, func(t *testing.T) {
			c := newCtr(t, func(s *specs.Spec) {
				s.Hooks = &specs.Hooks{}
				tc.set(s.Hooks)
			})
			start := time.Now()
			r := c.run("create", "--bundle", c.Bundle, c.ID)
			took := time.Since(start)
			if r.Code == 0 {
				c.remember(c.mustState().Pid)
				t.Fatalf("create succeeded with a hook sleeping past its timeout: %s", r)
			}
			if took > 15*time.Second {
				t.Errorf("create took %v with a 1s hook timeout", took)
			}
			if !strings.Contains(r.Stderr, "timed out") || !strings.Contains(r.Stderr, tc.kind) {
				t.Errorf("the error should name the %s hook and say it timed out: %s", tc.kind, r)
			}
			if _, r := c.state(); r.Code == 0 {
				t.Errorf("the container exists after the failed create: %s", r)
			}
		})
	}
	t.Run("startContainer", func(t *testing.T) {
		c := newCtr(t, func(s *specs.Spec) {
			sleeper(s)
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{sleepHook}}
		})
		c.create()
		start := time.Now()
		r := c.run("start", c.ID)
		if r.Code == 0 || !strings.Contains(r.Stderr, "timed out") {
			t.Errorf("start with a startContainer hook past its timeout: want a failure saying it timed out: %s", r)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("start took %v with a 1s hook timeout", took)
		}
		// runtime-spec v1.3.0, lifecycle step 7: if a startContainer hook
		// fails, the runtime stops the container (runc's init, which runs
		// these hooks, fails and exits); the user's process never runs.
		if st := c.mustState(); st.Status != "stopped" {
			t.Errorf("after the failed startContainer hook the container is %q, want stopped", st.Status)
		}
	})
}

func intPtr(i int) *int { return &i }

// Failures: prestart/createRuntime/createContainer fail the create and
// leave nothing; poststart and poststop failures are warnings only.
func TestHookFailures(t *testing.T) {
	fail := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook-said-no >&2; exit 3"}}
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			c := newCtr(t, func(s *specs.Spec) {
				h := &specs.Hooks{}
				switch kind {
				case "prestart":
					h.Prestart = []specs.Hook{fail} //nolint:staticcheck // deprecated, still run
				case "createRuntime":
					h.CreateRuntime = []specs.Hook{fail}
				case "createContainer":
					h.CreateContainer = []specs.Hook{fail}
				}
				s.Hooks = h
			})
			r := c.run("create", "--bundle", c.Bundle, c.ID)
			if r.Code == 0 {
				c.remember(c.mustState().Pid)
				t.Fatalf("create succeeded with a failing %s hook", kind)
			}
			if !strings.Contains(r.Stderr, kind) {
				t.Errorf("the error should name the %s hook: %s", kind, r)
			}
		})
	}
	t.Run("poststart and poststop", func(t *testing.T) {
		dir := t.TempDir()
		mark := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo ran >> " + dir + "/second"}}
		c := newCtr(t, func(s *specs.Spec) {
			sleeper(s)
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{fail, mark}, Poststop: []specs.Hook{fail, mark}}
		})
		c.create()
		r := c.run("start", c.ID)
		if r.Code != 0 || !strings.Contains(r.Stderr, "poststart") {
			t.Errorf("start with a failing poststart hook: want success with a warning naming it: %s", r)
		}
		if st := c.mustState(); st.Status != "running" {
			t.Errorf("status %q after a failed poststart hook, want running", st.Status)
		}
		r = c.run("delete", "--force", c.ID)
		if r.Code != 0 || !strings.Contains(r.Stderr, "poststop") {
			t.Errorf("delete with a failing poststop hook: want success with a warning naming it: %s", r)
		}
		if got := readString(filepath.Join(dir, "second")); got != "ran\nran\n" {
			t.Errorf("the hooks after the failing ones ran %q times, want twice (poststart, poststop)", got)
		}
	})
}
