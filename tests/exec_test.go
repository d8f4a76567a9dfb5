package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runningCtr creates and starts a container whose init sleeps: busybox
// sleep, which holds no fd of its own (the Go probe holds its poller's).
func runningCtr(t *testing.T, mutate func(*specs.Spec)) *ctr {
	t.Helper()
	c := newCtr(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "600"}
		if mutate != nil {
			mutate(s)
		}
	})
	c.create()
	c.mustRun("start", c.ID)
	return c
}

// mustExec runs a runtime command on c for a subtest t, which c.mustRun
// cannot do: it fails c's own test.
func mustExec(t *testing.T, c *ctr, args ...string) result {
	t.Helper()
	r := invoke(t, c.Root, c.io, runOpts{}, args...)
	if r.Code != 0 {
		t.Fatalf("unexpected failure: %s", r)
	}
	return r
}

// nsLinks reads /proc/PID/ns/* from the host: "mnt" -> "mnt:[4026...]".
func nsLinks(t *testing.T, pid int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"} {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, n)); err == nil {
			out[n] = target
		}
	}
	return out
}

// The exec'd process is in every namespace of the init, with the
// container's environment and stdio only.
func TestExecJoinsContainer(t *testing.T) {
	c := runningCtr(t, nil)
	initNS := nsLinks(t, c.mustState().Pid)
	f := parseFacts(t, c.mustRun("exec", c.ID, "/probe", "json"))
	if f.Pid <= 1 {
		t.Errorf("exec'd process has pid %d in the container, want > 1 (the init is 1)", f.Pid)
	}
	for n, want := range initNS {
		if got := f.Namespaces[n]; got != want {
			t.Errorf("namespace %s: exec'd process in %q, init in %q", n, got, want)
		}
	}
	checkEnv(t, f, c.Spec.Process.Env)
	checkFDs(t, f, 3)
	if f.Cwd != c.Spec.Process.Cwd {
		t.Errorf("cwd %q, want the spec's %q", f.Cwd, c.Spec.Process.Cwd)
	}
}

// exec's exit status is the process's; a signal is 128+N as a shell
// reports it; a failure of exec itself is 255, as with runc.
func TestExecExitStatus(t *testing.T) {
	c := runningCtr(t, nil)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"/probe", "exit", "0"}, 0},
		{[]string{"/probe", "exit", "7"}, 7},
		{[]string{"sh", "-c", "exit 255"}, 255},
		{[]string{"sh", "-c", "kill -KILL $$"}, 128 + 9},
		{[]string{"sh", "-c", "kill -TERM $$"}, 128 + 15},
	} {
		if r := c.run(append([]string{"exec", c.ID}, tc.args...)...); r.Code != tc.want {
			t.Errorf("exit status %d, want %d: %s", r.Code, tc.want, r)
		}
	}
	r := c.run("exec", c.ID, "/no/such/binary")
	if r.Code != 255 || !strings.Contains(r.Stderr, "/no/such/binary") {
		t.Errorf("exec of a missing binary: want exit 255 naming it: %s", r)
	}
	if st := c.mustState(); st.Status != "running" {
		t.Errorf("after the execs the container is %q, want running", st.Status)
	}
}

func TestExecOutputAndStdin(t *testing.T) {
	c := runningCtr(t, nil)
	r := c.mustRun("exec", c.ID, "sh", "-c", "echo out; echo err >&2")
	if r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("stdout %q stderr %q, want out and err: %s", r.Stdout, r.Stderr, r)
	}
	// Without a terminal, stdio is passed through unchanged: exec's
	// stdin is the process's.
	in, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := in.WriteString("line one\nline two\n"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runtimeBin, "--root", c.Root, "exec", c.ID, "sh", "-c", "wc -l; stat -L -c %F /proc/self/fd/0")
	if _, err := in.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = in
	cmd.Env = cleanEnv()
	// Tracked, so that the harness's reaper leaves its exit to Wait.
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := startTracked(cmd); err != nil {
		t.Fatal(err)
	}
	err = waitTracked(cmd)
	out := stdout.Bytes()
	if err != nil {
		t.Fatalf("exec with a file on stdin: %v: %s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) < 3 || got[0] != "2" || got[1] != "regular" {
		t.Errorf("exec's stdin: want 2 lines read from the regular file itself, got %q", out)
	}
}

func TestExecFlags(t *testing.T) {
	c := runningCtr(t, func(s *specs.Spec) { s.Process.NoNewPrivileges = false })
	t.Run("user", func(t *testing.T) {
		f := parseFacts(t, mustExec(t, c, "exec", "--user", "1000:1001", "-g", "10", "-g", "2000", c.ID, "/probe", "json"))
		if f.UID != 1000 || f.EUID != 1000 || f.GID != 1001 || f.EGID != 1001 {
			t.Errorf("uid %d euid %d gid %d egid %d, want 1000/1000 1001/1001", f.UID, f.EUID, f.GID, f.EGID)
		}
		groups := append([]int{}, f.Groups...)
		sort.Ints(groups)
		if fmt.Sprint(groups) != "[10 2000]" {
			t.Errorf("supplementary groups %v, want [10 2000]", groups)
		}
		f = parseFacts(t, mustExec(t, c, "exec", "-u", "1234", c.ID, "/probe", "json"))
		if f.UID != 1234 || int(c.Spec.Process.User.GID) != f.GID {
			t.Errorf("-u 1234: uid %d gid %d, want 1234 and the spec's gid %d", f.UID, f.GID, c.Spec.Process.User.GID)
		}
	})
	t.Run("cwd", func(t *testing.T) {
		f := parseFacts(t, mustExec(t, c, "exec", "--cwd", "/var", c.ID, "/probe", "json"))
		if f.Cwd != "/var" {
			t.Errorf("cwd %q, want /var", f.Cwd)
		}
		if r := invoke(t, c.Root, c.io, runOpts{}, "exec", "--cwd", "/no/such/dir", c.ID, "true"); r.Code != 255 {
			t.Errorf("--cwd of a missing directory: want exit 255: %s", r)
		}
	})
	t.Run("env", func(t *testing.T) {
		// A comma is part of the value, as with runc (urfave/cli v1),
		// not a separator between two variables.
		f := parseFacts(t, mustExec(t, c, "exec", "--env", "FOO=bar", "--env", "SPACED=a b=c", "--env", "LIST=a,b,c", "--env", "TERM=dumb", c.ID, "/probe", "json"))
		checkEnv(t, f, []string{"FOO=bar", "SPACED=a b=c", "LIST=a,b,c"})
		// The flag replaces the spec's value: runc sets each variable in
		// turn, so the process has one TERM, the flag's. (Go's environ
		// keeps the first of duplicates, as glibc's getenv does.)
		var terms []string
		for _, kv := range f.Env {
			if strings.HasPrefix(kv, "TERM=") {
				terms = append(terms, kv)
			}
		}
		if fmt.Sprint(terms) != "[TERM=dumb]" {
			t.Errorf("--env TERM=dumb over the spec's TERM: the process has %v, want [TERM=dumb]", terms)
		}
	})
	t.Run("env larger than the socket buffer", func(t *testing.T) {
		// exec queues its plan on the socket before stage 1 starts; a
		// plan this large does not fit, and the rest follows once stage
		// 1 reads.
		big := strings.Repeat("x", 100_000)
		args := []string{"exec"}
		for _, k := range []string{"BIG1", "BIG2", "BIG3"} {
			args = append(args, "--env", k+"="+big)
		}
		f := parseFacts(t, mustExec(t, c, append(args, c.ID, "/probe", "json")...))
		checkEnv(t, f, []string{"BIG1=" + big, "BIG2=" + big, "BIG3=" + big})
	})
	t.Run("cap", func(t *testing.T) {
		f := parseFacts(t, mustExec(t, c, "exec", "--cap", "CAP_SYS_ADMIN", "--cap", "net_admin", c.ID, "/probe", "json"))
		eff, _ := strconv.ParseUint(f.Caps["CapEff"], 16, 64)
		bnd, _ := strconv.ParseUint(f.Caps["CapBnd"], 16, 64)
		want := capMask(t, []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"})
		if eff&want != want || bnd&want != want {
			t.Errorf("--cap: CapEff %016x CapBnd %016x, want both to hold %016x", eff, bnd, want)
		}
		if f.Caps["CapInh"] != "0000000000000000" || f.Caps["CapAmb"] != "0000000000000000" {
			t.Errorf("--cap: CapInh %s CapAmb %s, want 0 (CVE-2022-29162)", f.Caps["CapInh"], f.Caps["CapAmb"])
		}
		base := parseFacts(t, mustExec(t, c, "exec", c.ID, "/probe", "json"))
		if b, _ := strconv.ParseUint(base.Caps["CapEff"], 16, 64); b&want != 0 {
			t.Errorf("without --cap, CapEff %016x already holds them: the test proves nothing", b)
		}
		// runc 1.1 warns about a capability it does not know and goes on.
		if r := invoke(t, c.Root, c.io, runOpts{}, "exec", "--cap", "CAP_NO_SUCH", c.ID, "true"); r.Code != 0 || !strings.Contains(r.Stderr, "CAP_NO_SUCH") {
			t.Errorf("--cap CAP_NO_SUCH: want success with a warning naming it: %s", r)
		}
	})
	t.Run("no-new-privs", func(t *testing.T) {
		if f := parseFacts(t, mustExec(t, c, "exec", c.ID, "/probe", "json")); f.NoNewPrivs != 0 {
			t.Errorf("NoNewPrivs %d without the flag (spec false), want 0", f.NoNewPrivs)
		}
		if f := parseFacts(t, mustExec(t, c, "exec", "--no-new-privs", c.ID, "/probe", "json")); f.NoNewPrivs != 1 {
			t.Errorf("NoNewPrivs %d with --no-new-privs, want 1", f.NoNewPrivs)
		}
	})
	t.Run("bad user", func(t *testing.T) {
		for _, u := range []string{"nobody", "1000:", ":1000", "-1", "4294967296"} {
			if r := invoke(t, c.Root, c.io, runOpts{}, "exec", "-u", u, c.ID, "true"); r.Code == 0 {
				t.Errorf("-u %q accepted: %s", u, r)
			}
		}
	})
}

// -p process.json replaces the container's process entirely.
func TestExecProcessJSON(t *testing.T) {
	c := runningCtr(t, nil)
	p := specs.Process{
		Args: []string{"/probe", "json"},
		Env:  []string{"PATH=/bin:/usr/bin", "ONLY=this"},
		Cwd:  "/etc",
		User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5}},
		Capabilities: &specs.LinuxCapabilities{
			Bounding:  []string{"CAP_KILL", "CAP_NET_RAW"},
			Effective: []string{"CAP_KILL"},
			Permitted: []string{"CAP_KILL"},
		},
		NoNewPrivileges: true,
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f := parseFacts(t, c.mustRun("exec", "-p", path, c.ID))
	if f.UID != 1000 || f.GID != 1000 || fmt.Sprint(f.Groups) != "[5]" {
		t.Errorf("uid %d gid %d groups %v, want 1000 1000 [5]", f.UID, f.GID, f.Groups)
	}
	if f.Cwd != "/etc" {
		t.Errorf("cwd %q, want /etc", f.Cwd)
	}
	// HOME aside, which runc adds when it is missing (see
	// TestProcessEnvLikeRunc).
	var env []string
	for _, kv := range f.Env {
		if !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	sort.Strings(env)
	if strings.Join(env, " ") != "ONLY=this PATH=/bin:/usr/bin" {
		t.Errorf("env %v, want exactly the process.json's", f.Env)
	}
	if bnd, _ := strconv.ParseUint(f.Caps["CapBnd"], 16, 64); bnd != capMask(t, p.Capabilities.Bounding) {
		t.Errorf("CapBnd %016x, want %016x", bnd, capMask(t, p.Capabilities.Bounding))
	}
	if f.NoNewPrivs != 1 {
		t.Errorf("NoNewPrivs %d, want 1", f.NoNewPrivs)
	}
	// Garbage and a missing file fail clearly, as runc.
	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := c.run("exec", "-p", path, c.ID); r.Code == 0 || !strings.Contains(r.Stderr, "process.json") {
		t.Errorf("-p with bad JSON: want a failure naming the file: %s", r)
	}
	if r := c.run("exec", "-p", path+".missing", c.ID); r.Code == 0 {
		t.Errorf("-p with a missing file succeeded: %s", r)
	}
}

// --detach returns at once; --pid-file has the process's host pid.
func TestExecDetachPidFile(t *testing.T) {
	c := runningCtr(t, nil)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	start := time.Now()
	c.mustRun("exec", "--detach", "--pid-file", pidFile, c.ID, "sleep", "600")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("exec --detach took %v", d)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readString(pidFile)))
	if err != nil || pid <= 0 {
		t.Fatalf("pid file %q: %v", readString(pidFile), err)
	}
	p := procStat(pid)
	if p.pid == 0 || p.state == 'Z' {
		t.Fatalf("the detached process %d is not running", pid)
	}
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); !strings.HasPrefix(string(b), "sleep\x00600") {
		t.Errorf("pid file names %d running %q, want sleep 600", pid, b)
	}
	initNS := nsLinks(t, c.mustState().Pid)
	if got := nsLinks(t, pid); got["pid"] != initNS["pid"] || got["mnt"] != initNS["mnt"] {
		t.Errorf("detached process namespaces %v, want the init's %v", got, initNS)
	}
	if fds, err := hostFDs(pid); err != nil || len(fds) != 3 {
		t.Errorf("detached process fds %v (%v), want stdio only", fds, err)
	}
	c.remember(pid)
	_ = unix.Kill(pid, unix.SIGKILL)
	if _, err := waitExit(pid, cmdTimeout); err != nil {
		t.Error(err)
	}
}

func TestExecStoppedOrUnknown(t *testing.T) {
	c := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{"/probe", "exit", "0"} })
	c.create()
	pid := c.mustState().Pid
	c.mustRun("start", c.ID)
	if _, err := waitExit(pid, cmdTimeout); err != nil {
		t.Fatal(err)
	}
	c.waitStatus("stopped")
	r := c.run("exec", c.ID, "true")
	if r.Code == 0 || !strings.Contains(r.Stderr, "stopped") {
		t.Errorf("exec into a stopped container: want a failure saying it is stopped: %s", r)
	}
	r = c.run("exec", "no-such-container", "true")
	if r.Code == 0 || !strings.Contains(r.Stderr, "does not exist") {
		t.Errorf("exec into an unknown container: want \"does not exist\": %s", r)
	}
	if r := c.run("exec", c.ID); r.Code == 0 {
		t.Errorf("exec without a command succeeded: %s", r)
	}
}

// A created (not yet started) container accepts exec as runc does: the
// init waits on exec.fifo, its namespaces are complete.
func TestExecCreated(t *testing.T) {
	c := newCtr(t, sleeper)
	c.create()
	r := c.mustRun("exec", c.ID, "sh", "-c", "echo hi")
	if r.Stdout != "hi\n" {
		t.Errorf("exec into a created container printed %q", r.Stdout)
	}
	if st := c.mustState(); st.Status != "created" {
		t.Errorf("exec changed the status to %q", st.Status)
	}
}

// freeze writes the v1 freezer (or cgroup.freeze on v2) of the
// container directly, so this test does not depend on `pause`.
func freeze(t *testing.T, c *ctr, frozen bool) {
	t.Helper()
	var st struct {
		CgroupPaths map[string]string `json:"cgroup_paths"`
	}
	if err := json.Unmarshal([]byte(readString(filepath.Join(c.Root, c.ID, "state.json"))), &st); err != nil {
		t.Fatalf("state.json: %v", err)
	}
	file, value := "", ""
	switch {
	case st.CgroupPaths["freezer"] != "":
		file, value = filepath.Join(st.CgroupPaths["freezer"], "freezer.state"), map[bool]string{true: "FROZEN", false: "THAWED"}[frozen]
	case st.CgroupPaths[""] != "":
		file, value = filepath.Join(st.CgroupPaths[""], "cgroup.freeze"), map[bool]string{true: "1", false: "0"}[frozen]
	default:
		t.Skipf("no freezer in cgroup_paths %v", st.CgroupPaths)
	}
	if err := os.WriteFile(file, []byte(value), 0o644); err != nil {
		t.Fatalf("write %s to %s: %v", value, file, err)
	}
	if !strings.HasSuffix(file, "freezer.state") {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.TrimSpace(readString(file)) != value {
		if time.Now().After(deadline) {
			t.Fatalf("%s never became %s", file, value)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExecPaused(t *testing.T) {
	c := runningCtr(t, nil)
	freeze(t, c, true)
	thawed := false
	t.Cleanup(func() {
		if !thawed {
			freeze(t, c, false)
		}
	})
	if st := c.mustState(); st.Status != "paused" {
		t.Fatalf("status %q after freezing, want paused", st.Status)
	}
	r := c.run("exec", c.ID, "true")
	if r.Code == 0 || !strings.Contains(r.Stderr, "paused") {
		t.Errorf("exec into a paused container: want a failure saying it is paused: %s", r)
	}
	// With --ignore-paused the process joins the frozen cgroup, so it
	// is frozen too until the container is thawed, as with runc.
	out := filepath.Join(t.TempDir(), "out")
	outFile, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd := exec.Command(runtimeBin, "--root", c.Root, "exec", "--ignore-paused", c.ID, "sh", "-c", "echo ran")
	cmd.Stdout, cmd.Stderr = outFile, outFile
	cmd.Env = cleanEnv()
	if err := startTracked(cmd); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- waitTracked(cmd) }()
	select {
	case err := <-done:
		t.Fatalf("exec --ignore-paused finished while the container was frozen (%v): %s", err, readString(out))
	case <-time.After(time.Second):
	}
	freeze(t, c, false)
	thawed = true
	select {
	case err := <-done:
		if err != nil || readString(out) != "ran\n" {
			t.Errorf("exec --ignore-paused after thaw: %v: %q", err, readString(out))
		}
	case <-time.After(cmdTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("exec --ignore-paused never finished after thaw")
	}
	if st := c.mustState(); st.Status != "running" {
		t.Errorf("status %q after thaw, want running", st.Status)
	}
}

// A Kubernetes exec probe runs exec again and again: nothing may pile
// up, in the container or on the host.
func TestExecRepeatedNoLeak(t *testing.T) {
	c := runningCtr(t, nil)
	initPid := c.mustState().Pid
	before := procCount(t, initPid)
	mountsBefore := len(hostMounts())
	for i := 0; i < 20; i++ {
		if r := c.run("exec", c.ID, "true"); r.Code != 0 {
			t.Fatalf("exec %d: %s", i, r)
		}
	}
	if after := procCount(t, initPid); after != before {
		t.Errorf("processes in the container: %d before 20 execs, %d after", before, after)
	}
	if n := len(hostMounts()); n != mountsBefore {
		t.Errorf("host mounts: %d before 20 execs, %d after", mountsBefore, n)
	}
	if fds, err := hostFDs(initPid); err != nil || len(fds) > 3 {
		t.Errorf("init fds after the execs: %v (%v)", fds, err)
	}
}

// procCount counts the processes in the cgroup (any v1 controller's
// cgroup.procs) of pid.
func procCount(t *testing.T, pid int) int {
	t.Helper()
	for _, dir := range ownCgroupDirs(pid) {
		if b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err == nil {
			return len(strings.Fields(string(b)))
		}
	}
	t.Fatalf("no cgroup.procs for %d", pid)
	return 0
}

// environOf reads a process's environment from the host.
func environOf(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// envValues lists the values a name has in env, in order.
func envValues(env []string, name string) []string {
	var vals []string
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			vals = append(vals, v)
		}
	}
	return vals
}

// runc's init sets the environment one variable at a time: a name
// given twice keeps its last value and appears once (C programs read
// the first with getenv), and HOME is set from the user's entry in the
// container's /etc/passwd ("/" without one) when the config has none.
// The same holds for exec, whose --env comes after the config's.
func TestProcessEnvLikeRunc(t *testing.T) {
	c := runningCtr(t, func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "DUP=first", "DUP=second") })
	check := func(what string, env []string, dup string) {
		if got := envValues(env, "DUP"); fmt.Sprint(got) != "["+dup+"]" {
			t.Errorf("%s: DUP has the values %q, want only %q", what, got, dup)
		}
		if got := envValues(env, "HOME"); fmt.Sprint(got) != "[/root]" {
			t.Errorf("%s: HOME is %q, want /root (root's home in the container's /etc/passwd)", what, got)
		}
	}
	check("init", environOf(t, c.mustState().Pid), "second")
	r := c.mustRun("exec", "--env", "DUP=third", c.ID, "cat", "/proc/self/environ")
	check("exec --env", strings.Split(strings.TrimRight(r.Stdout, "\x00"), "\x00"), "third")
}

// exec into a container that is created but not started and has its own
// user namespace: stage 1 must open every namespace of the init before
// it joins the user namespace, after which the init (not dumpable until
// it execs) no longer lets it (as runc does).
func TestExecCreatedUserNamespace(t *testing.T) {
	const hostID, size = userNSHostID, userNSSize
	c := newCtr(t, withUserNS)
	prepareUserNSBundle(t, c)
	c.create()
	r := c.mustRun("exec", c.ID, "cat", "/proc/self/uid_map")
	if got := strings.Join(strings.Fields(r.Stdout), " "); got != fmt.Sprintf("0 %d %d", hostID, size) {
		t.Errorf("exec'd process's uid_map %q, want 0 %d %d", got, hostID, size)
	}
	if st := c.mustState(); st.Status != "created" {
		t.Errorf("status after exec %q, want created", st.Status)
	}
}
