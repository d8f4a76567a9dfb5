package tests

// CVE-2016-9962 and CVE-2024-21626: nothing of the runtime's may reach
// the container: no fd of its own (a host directory fd was the "Leaky
// Vessels" way out), no cwd outside the rootfs, no ptrace of the init
// while it still holds the runtime's fds.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// leakFDs are the fd numbers tried: runc leaked fd 7 (/sys/fs/cgroup)
// in 1.1.11; the runtime's own fds are the low ones after stdio.
var leakFDs = []int{3, 4, 5, 6, 7, 8, 9, 10}

// hostCanaryExe puts the escape helper in a host directory the
// container cannot see: if a /proc/self/fd/N/.. path ever reaches the
// host, running it prints the marker.
func hostCanaryExe(t *testing.T) string {
	t.Helper()
	bin, err := escapeBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "skiff-hostexe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, "evil")
	if err := copyFile(bin, p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// dotdots is "/.." n times: enough to climb from any host directory a
// leaked fd could name up to the host root.
func dotdots(n int) string { return strings.Repeat("/..", n) }

// checkCwdConfined accepts a failure, or a process whose cwd is inside
// the container.
func checkCwdConfined(t *testing.T, what string, r result) {
	t.Helper()
	noPanic(t, r)
	if r.Code != 0 {
		t.Logf("%s: rejected: %s", what, strings.TrimSpace(r.Stderr))
		return
	}
	f := parseFacts(t, r)
	if strings.Contains(f.Cwd, "unreachable") || f.Cwd == "" {
		t.Errorf("ESCAPE: %s: the process's cwd is outside the container: %q", what, f.Cwd)
	} else {
		t.Logf("%s: accepted, cwd %q", what, f.Cwd)
	}
	checkFDs(t, f, 3)
}

func TestCVE202421626ProcessCwd(t *testing.T) {
	g := newHostGuard(t)
	for _, n := range leakFDs {
		cwd := fmt.Sprintf("/proc/self/fd/%d", n)
		c := newCtr(t, func(s *specs.Spec) { s.Process.Cwd = cwd })
		checkCwdConfined(t, "process.cwd "+cwd, c.run("run", "--bundle", c.Bundle, c.ID))
	}
	g.Check("after the cwd attempts")
}

func TestCVE202421626ExecCwd(t *testing.T) {
	g := newHostGuard(t)
	c := newCtr(t, sleeper)
	c.create()
	c.mustRun("start", c.ID)
	for _, n := range leakFDs {
		cwd := fmt.Sprintf("/proc/self/fd/%d", n)
		checkCwdConfined(t, "exec --cwd "+cwd, c.run("exec", "--cwd", cwd, c.ID, "/probe", "json"))
		for _, sub := range []string{"..", "../../.."} {
			checkCwdConfined(t, "exec --cwd "+cwd+"/"+sub, c.run("exec", "--cwd", cwd+"/"+sub, c.ID, "/probe", "json"))
		}
	}
	g.Check("after the exec --cwd attempts")
}

// A program path through a leaked fd: `exec ctr /proc/self/fd/N/../..`
// and the same as the container's process.args[0].
func TestCVE202421626ExecPath(t *testing.T) {
	g := newHostGuard(t)
	evil := hostCanaryExe(t)
	c := newCtr(t, sleeper)
	c.create()
	c.mustRun("start", c.ID)
	check := func(what string, r result) {
		t.Helper()
		noPanic(t, r)
		if strings.Contains(r.Stdout, "ESCAPED-HOST-BINARY") {
			t.Errorf("ESCAPE: %s ran a binary from the host: %s", what, r)
		}
	}
	for _, n := range leakFDs {
		fd := fmt.Sprintf("/proc/self/fd/%d", n)
		for _, depth := range []int{2, 3, 8} {
			p := fd + dotdots(depth) + evil
			check("exec "+p, c.run("exec", c.ID, p, "marker"))
		}
		for _, p := range []string{fd + "/../../../bin/true", fd + "/../../../../../../../bin/true"} {
			r := c.run("exec", c.ID, p)
			check("exec "+p, r)
			t.Logf("exec %s: exit %d %s", p, r.Code, strings.TrimSpace(r.Stderr))
		}
		p := fd + dotdots(8) + evil
		d := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{p, "marker"} })
		check("process.args "+p, d.run("run", "--bundle", d.Bundle, d.ID))
	}
	g.Check("after the exec path attempts")
}

// The fd audit of runc's create.bats: after create, the init holds
// stdio and the exec fifo and nothing else; its cwd and root are the
// container's. Fds this test process itself inherited (the go tool's)
// are left to TestCVE202421626InheritedFDs.
func TestNoSkiffFDsAfterCreate(t *testing.T) {
	c := newCtr(t, sleeper)
	c.create()
	pid := c.mustState().Pid
	fds, err := hostFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := hostFDs(os.Getpid())
	var rootfs unix.Stat_t
	if err := unix.Stat(c.Rootfs, &rootfs); err != nil {
		t.Fatal(err)
	}
	for n, target := range fds {
		if n <= 2 || strings.HasSuffix(target, "/exec.fifo") {
			continue
		}
		if own[n] == target {
			t.Logf("fd %d -> %s is inherited from the test process", n, target)
			continue
		}
		t.Errorf("created init %d holds fd %d: %s (allowed: stdio, the exec fifo)", pid, n, describeFD(pid, n, &rootfs))
	}
	var st unix.Stat_t
	for _, link := range []string{"root", "cwd"} {
		p := fmt.Sprintf("/proc/%d/%s", pid, link)
		if err := unix.Stat(p, &st); err != nil {
			t.Errorf("stat %s: %v", p, err)
		} else if st.Dev != rootfs.Dev || st.Ino != rootfs.Ino {
			t.Errorf("created init's %s is not the rootfs %s", link, c.Rootfs)
		}
	}
}

// describeFD says what an init's fd is, from the host.
func describeFD(pid, n int, rootfs *unix.Stat_t) string {
	p := fmt.Sprintf("/proc/%d/fd/%d", pid, n)
	target, _ := os.Readlink(p)
	var st unix.Stat_t
	var sfs unix.Statfs_t
	switch {
	case unix.Stat(p, &st) != nil:
		return target
	case st.Dev == rootfs.Dev && st.Ino == rootfs.Ino:
		return target + " (the container's root directory)"
	case unix.Statfs(p, &sfs) == nil && sfs.Type == unix.PROC_SUPER_MAGIC && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return target + " (a procfs instance, without the container's masked and read-only paths)"
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return target + " (a directory outside the container)"
	}
	return target
}

// CVE-2024-21626 with the fds coming from the runtime's caller (a
// leaky shim, or any parent that forgets O_CLOEXEC): a host directory
// at fd 20 and the host cgroupfs at fd 7, where runc leaked its own.
// The image's entrypoint, cwd and an exec path try to use them. The
// runtime must not let them reach the container.
func TestCVE202421626InheritedFDs(t *testing.T) {
	g := newHostGuard(t)
	evil := hostCanaryExe(t)
	evilDir, err := os.Open(filepath.Dir(evil))
	if err != nil {
		t.Fatal(err)
	}
	defer evilDir.Close()
	cgroupfs, err := os.Open("/sys/fs/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	defer cgroupfs.Close()
	extra := make([]*os.File, 18) // fd 3+i; nil entries are closed
	extra[7-3], extra[20-3] = cgroupfs, evilDir
	opts := runOpts{extraFiles: extra}
	hostPath := func(fd int) string {
		if fd == 20 {
			return "/proc/self/fd/20/evil"
		}
		return "/proc/self/fd/7" + dotdots(8) + evil
	}
	check := func(what string, r result) {
		t.Helper()
		noPanic(t, r)
		if strings.Contains(r.Stdout, "ESCAPED-HOST-BINARY") {
			t.Errorf("ESCAPE: %s ran the host binary %s in the container (fd inherited from the runtime's caller)", what, evil)
		} else {
			t.Logf("%s: exit %d %s", what, r.Code, strings.TrimSpace(r.Stderr))
		}
	}
	for _, fd := range []int{7, 20} {
		p := hostPath(fd)
		c := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{p, "marker"} })
		check("process.args[0] "+p, c.runWith(opts, "run", "--bundle", c.Bundle, c.ID))
		cwd := fmt.Sprintf("/proc/self/fd/%d", fd)
		c = newCtr(t, func(s *specs.Spec) { s.Process.Cwd = cwd })
		checkCwdConfined(t, "process.cwd "+cwd, c.runWith(opts, "run", "--bundle", c.Bundle, c.ID))
	}
	c := newCtr(t, sleeper)
	if r := c.runWith(opts, "create", "--bundle", c.Bundle, c.ID); r.Code != 0 {
		t.Fatalf("create with inherited fds: %s", r)
	}
	pid := c.mustState().Pid
	c.remember(pid)
	fds, _ := hostFDs(pid)
	for _, fd := range []int{7, 20} {
		if target, ok := fds[fd]; ok {
			t.Errorf("created init holds the caller's fd %d -> %s until start", fd, target)
		}
	}
	c.mustRun("start", c.ID)
	for _, fd := range []int{7, 20} {
		p := hostPath(fd)
		check("exec "+p, c.runWith(opts, "exec", c.ID, p, "marker"))
		cwd := fmt.Sprintf("/proc/self/fd/%d", fd)
		checkCwdConfined(t, "exec --cwd "+cwd, c.runWith(opts, "exec", "--cwd", cwd, c.ID, "/probe", "json"))
	}
	g.Check("after the inherited-fd attempts")
}

// After exec, the process holds stdio only: from inside (the probe) and
// from the host (a detached process).
func TestNoSkiffFDsAfterExec(t *testing.T) {
	c := newCtr(t, sleeper)
	c.create()
	c.mustRun("start", c.ID)
	checkFDs(t, parseFacts(t, c.mustRun("exec", c.ID, "/probe", "json")), 3)
	pidFile := filepath.Join(t.TempDir(), "pid")
	c.mustRun("exec", "-d", "--pid-file", pidFile, c.ID, "sleep", "600") // busybox: no fds of its own, unlike the Go probe
	var pid int
	if _, err := fmt.Sscan(readString(pidFile), &pid); err != nil {
		t.Fatalf("exec --pid-file: %v", err)
	}
	fds, err := hostFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	for n, target := range fds {
		if n > 2 {
			t.Errorf("exec'd process %d holds fd %d -> %s (want stdio only)", pid, n, target)
		}
	}
}

// watchReport mirrors contrib/escape's WatchReport.
type watchReport struct {
	Loops         int            `json:"loops"`
	SkiffSeen     int            `json:"skiff_seen"`
	AttachTried   int            `json:"attach_tried"`
	AttachedOther int            `json:"attached_other"`
	Errnos        map[string]int `json:"errnos"`
	AttachedSkiff []struct {
		Pid     int    `json:"pid"`
		Cmdline string `json:"cmdline"`
	} `json:"attached_skiff"`
	LeakedFds  []string `json:"leaked_fds"`
	SkiffFds   []string `json:"skiff_fds"`
	ProcWrites []string `json:"proc_writes"`
}

// CVE-2016-9962: a root process in container A ptraces every new
// process and reads the fds of every skiff init it sees, while the host
// repeatedly execs in A and creates a container B in A's pid namespace
// (as the containers of a pod share one), so that B's init sits in A's
// view until start. With Docker's capabilities the attach must fail
// (the init is not dumpable); with CAP_SYS_PTRACE the kernel lets root
// trace anything, so there the init's fds must be harmless: no host
// directory, no procfs instance whose host-global files (sysrq-trigger,
// core_pattern) open for writing.
func TestCVE20169962Ptrace(t *testing.T) {
	rounds := secEnvInt("SKIFF_SECURITY_EXEC_ROUNDS", 40)
	for _, tc := range []struct {
		name         string
		extra        []string
		attachDenied bool
	}{
		{name: "docker-caps", attachDenied: true},
		{name: "cap-sys-ptrace", extra: []string{"CAP_SYS_PTRACE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newHostGuard(t)
			a := newCtr(t, specChain(withCaps(tc.extra...), func(s *specs.Spec) {
				s.Process.Args = []string{"/escape", "watch", "-stop", "/stop", "-max", "3m"}
			}))
			installEscape(t, a)
			created := a.create()
			aPid := a.mustState().Pid
			a.mustRun("start", a.ID)
			b := newCtr(t, func(s *specs.Spec) {
				s.Process.Args = []string{"/bin/true"}
				for i, ns := range s.Linux.Namespaces {
					if ns.Type == specs.PIDNamespace {
						s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", aPid)
					}
				}
			})
			for i := 0; i < rounds; i++ {
				r := a.run("exec", a.ID, "/bin/true")
				noPanic(t, r)
				if r.Code != 0 {
					t.Logf("round %d: %s", i, r)
				}
				pid, r := createQuiet(b)
				noPanic(t, r)
				if pid == 0 {
					t.Errorf("creating B in A's pid namespace: %s", r)
					break
				}
				time.Sleep(20 * time.Millisecond)
				noPanic(t, b.run("start", b.ID))
				noPanic(t, b.run("delete", "--force", b.ID))
			}
			if err := os.WriteFile(filepath.Join(a.Rootfs, "stop"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := waitExit(aPid, cmdTimeout); err != nil {
				t.Fatal(err)
			}
			var rep watchReport
			out := readString(created.StdoutPath)
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("watcher output is not a report: %v\nstdout: %s\nstderr: %s", err, out, readString(created.StderrPath))
			}
			t.Logf("watcher: %d loops, saw %d skiff inits, %d attach attempts, %d non-skiff attached; errnos %v",
				rep.Loops, rep.SkiffSeen, rep.AttachTried, rep.AttachedOther, rep.Errnos)
			t.Logf("fds seen in skiff inits: %v", rep.SkiffFds)
			if tc.attachDenied {
				for _, a := range rep.AttachedSkiff {
					t.Errorf("ESCAPE: ptrace-attached to skiff's init (pid %d, %q) before it exec'd", a.Pid, a.Cmdline)
				}
			} else if len(rep.AttachedSkiff) > 0 {
				t.Logf("attached to %d skiff inits (expected with CAP_SYS_PTRACE)", len(rep.AttachedSkiff))
			}
			// During setup (before pivot_root and the capability drop)
			// the init's root is the host's: a tracer with
			// CAP_SYS_PTRACE sees it through /proc/PID/{root,fd}, in
			// runc as in skiff. What the init still holds after its
			// setup, through start, is skiff's own doing.
			for _, l := range append(append([]string{}, rep.LeakedFds...), rep.ProcWrites...) {
				if tc.attachDenied || strings.HasPrefix(l, "[after setup]") {
					t.Errorf("ESCAPE: reachable through a skiff init's fds: %s", l)
				} else {
					t.Logf("reachable through a skiff init's fds (CAP_SYS_PTRACE, during setup): %s", l)
				}
			}
			if rep.SkiffSeen == 0 {
				t.Errorf("the watcher never saw a skiff init: the attack was not exercised")
			}
			g.Check("after the ptrace watch")
		})
	}
}
