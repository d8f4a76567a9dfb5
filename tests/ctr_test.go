package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/contrib/probe/facts"
)

// ctr is one container under test: its own bundle (a private copy of
// the busybox rootfs plus /probe), state root and id, and a cleanup
// that force-deletes it and then checks that nothing is left.
type ctr struct {
	t      *testing.T
	ID     string
	Root   string // --root
	Bundle string
	Rootfs string
	Spec   *specs.Spec
	io     string // runtime stdio files
	// What the leak check looks for once the container is deleted.
	inits   []procInfo
	cgroups []string
}

// ociState is the runtime's `state` output.
type ociState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations"`
}

// newCtrWithHook makes a container whose process is the shell script
// process and whose createRuntime hook runs the shell script hook with
// its standard output in a file in dir, whose path it returns.
func newCtrWithHook(t *testing.T, dir, process, hook string) (*ctr, string) {
	t.Helper()
	hookOut := filepath.Join(dir, "hook")
	c := newCtr(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", process}
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{
			Path: "/bin/sh",
			Args: []string{"sh", "-c", "{ " + hook + "; } > " + hookOut},
		}}}
	})
	return c, hookOut
}

func newCtr(t *testing.T, mutate func(*specs.Spec)) *ctr {
	t.Helper()
	return newCtrIn(t, "", mutate)
}

// newCtrIn makes a container whose state lives under root ("" for a
// fresh one), e.g. to list several containers together.
func newCtrIn(t *testing.T, root string, mutate func(*specs.Spec)) *ctr {
	t.Helper()
	requireSetup(t)
	base := t.TempDir()
	c := &ctr{t: t, ID: newID(), Root: root, Bundle: filepath.Join(base, "bundle"), io: filepath.Join(base, "io")}
	c.Rootfs = filepath.Join(c.Bundle, "rootfs")
	if c.Root == "" {
		c.Root = filepath.Join(base, "root")
	}
	for _, d := range []string{c.Root, c.io} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyTree(rootfsSrc, c.Rootfs); err != nil {
		t.Fatalf("copying rootfs: %v", err)
	}
	if err := copyFile(probeSrc, filepath.Join(c.Rootfs, "probe"), 0o755); err != nil {
		t.Fatalf("copying probe: %v", err)
	}
	c.Spec = defaultSpec(t)
	if mutate != nil {
		mutate(c.Spec)
	}
	c.writeSpec()
	t.Cleanup(c.cleanup)
	return c
}

func (c *ctr) writeSpec() {
	c.t.Helper()
	b, err := json.MarshalIndent(c.Spec, "", "\t")
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeConfig(b)
}

func (c *ctr) writeConfig(b []byte) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.Bundle, "config.json"), b, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *ctr) run(args ...string) result {
	c.t.Helper()
	return invoke(c.t, c.Root, c.io, runOpts{}, args...)
}

func (c *ctr) runWith(opts runOpts, args ...string) result {
	c.t.Helper()
	return invoke(c.t, c.Root, c.io, opts, args...)
}

func (c *ctr) mustRun(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.Code != 0 {
		c.t.Fatalf("unexpected failure: %s", r)
	}
	return r
}

// create runs `create` and remembers the init process for the checks.
func (c *ctr) create(extra ...string) result {
	c.t.Helper()
	args := append([]string{"create", "--bundle", c.Bundle}, extra...)
	r := c.mustRun(append(args, c.ID)...)
	c.remember(c.mustState().Pid)
	return r
}

// remember records a container init so that cleanup can check that
// it, and the cgroups it was in, are gone.
func (c *ctr) remember(pid int) {
	p := procStat(pid)
	if p.pid == 0 {
		return
	}
	c.inits = append(c.inits, p)
	c.cgroups = append(c.cgroups, ownCgroupDirs(pid)...)
}

func (c *ctr) state() (ociState, result) {
	c.t.Helper()
	r := c.run("state", c.ID)
	var st ociState
	if r.Code == 0 {
		unmarshal(c.t, r, &st)
	}
	return st, r
}

func (c *ctr) mustState() ociState {
	c.t.Helper()
	st, r := c.state()
	if r.Code != 0 {
		c.t.Fatalf("state: %s", r)
	}
	return st
}

// waitStatus polls `state` until the status is want. Only for waits
// nothing else can signal, such as a foreground run getting going.
func (c *ctr) waitStatus(want string) ociState {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, r := c.state()
		if r.Code == 0 && st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("status never became %q; last: %s", want, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *ctr) cleanup() {
	r := c.run("delete", "--force", c.ID)
	if r.Code != 0 && !strings.Contains(r.Stderr, "does not exist") {
		c.t.Errorf("cleanup: %s", r)
	}
	c.checkGone("after delete --force")
}

// checkGone fails the test if anything of the container is left on the
// host, and removes what it finds so later tests start clean.
func (c *ctr) checkGone(when string) {
	t := c.t
	t.Helper()
	for _, p := range c.inits {
		if !waitGone(p, 10*time.Second) {
			t.Errorf("%s: container init %d (%s) still running", when, p.pid, p.comm)
			_ = unix.Kill(p.pid, unix.SIGKILL)
		}
	}
	for _, m := range hostMountsUnder(c.Bundle) {
		t.Errorf("%s: mount left on the host: %s (%s)", when, m.MountPoint, m.FSType)
		_ = unix.Unmount(m.MountPoint, unix.MNT_DETACH)
	}
	seen := map[string]bool{}
	for _, dir := range append(c.cgroups, cgroupCandidates(c.ID)...) {
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s: cgroup %s left behind", when, dir)
			_ = os.Remove(dir)
		}
	}
	if _, err := os.Lstat(filepath.Join(c.Root, c.ID)); err == nil {
		t.Errorf("%s: state dir %s left behind", when, filepath.Join(c.Root, c.ID))
	}
}

// waitGone waits until p has exited (a zombie counts: the reaper will
// collect it) or its PID belongs to someone else.
func waitGone(p procInfo, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		now := procStat(p.pid)
		if now.pid == 0 || now.start != p.start || now.state == 'Z' || now.state == 'X' {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkNoOrphans runs when a test ends: any live process re-parented to
// us is something a runtime left behind.
func checkNoOrphans(t *testing.T) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := untrackedLiveChildren()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				t.Errorf("process left behind: pid %d (%s)", p.pid, p.comm)
				_ = unix.Kill(p.pid, unix.SIGKILL)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hostMounts() []facts.Mount {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	m, _ := facts.ParseMountinfo(b)
	return m
}

// hostMountsUnder lists host mounts at or below dir, deepest first.
func hostMountsUnder(dir string) []facts.Mount {
	var out []facts.Mount
	for _, m := range hostMounts() {
		if m.MountPoint == dir || strings.HasPrefix(m.MountPoint, dir+"/") {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i].MountPoint) > len(out[j].MountPoint) })
	return out
}

// cgroupHierarchy is one mounted cgroup hierarchy and where this test
// process sits in it.
type cgroupHierarchy struct {
	mountPoint string
	ownPath    string
}

// cgroupHierarchies pairs /proc/PID/cgroup lines with the host's cgroup
// mounts: a v1 line names its controllers ("4:memory:/x"), which appear
// among the mount's super options; the v2 line is "0::/x".
func cgroupHierarchies(pid int) map[string]cgroupHierarchy {
	out := map[string]cgroupHierarchy{}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return out
	}
	mounts := hostMounts()
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, m := range mounts {
			v2 := parts[1] == "" && m.FSType == "cgroup2"
			v1 := parts[1] != "" && m.FSType == "cgroup" && hasAll(m.SuperOptions, strings.Split(parts[1], ","))
			if v1 || v2 {
				out[parts[1]] = cgroupHierarchy{mountPoint: m.MountPoint, ownPath: parts[2]}
				break
			}
		}
	}
	return out
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// ownCgroupDirs lists the cgroup directories pid is in that differ
// from this test's: the ones the runtime made for the container.
func ownCgroupDirs(pid int) []string {
	mine := cgroupHierarchies(os.Getpid())
	var dirs []string
	for key, h := range cgroupHierarchies(pid) {
		if m, ok := mine[key]; ok && m.ownPath == h.ownPath {
			continue
		}
		dirs = append(dirs, filepath.Join(h.mountPoint, h.ownPath))
	}
	return dirs
}

// cgroupCandidates are the places a runtime puts a container's cgroup
// when cgroupsPath is empty: <hierarchy>/<id>, or under the caller's
// own cgroup.
func cgroupCandidates(id string) []string {
	seen := map[string]bool{}
	var dirs []string
	for _, h := range cgroupHierarchies(os.Getpid()) {
		for _, d := range []string{filepath.Join(h.mountPoint, id), filepath.Join(h.mountPoint, h.ownPath, id)} {
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// copyTree copies a rootfs: a real copy, not hardlinks, so that tests
// may chown or write files without touching the shared source.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm()|info.Mode()&fs.ModeSticky)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		}
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
