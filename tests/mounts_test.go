package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/contrib/probe/facts"
)

// hostTmpfs mounts a tmpfs at a fresh host directory for the test,
// shared if asked (so a container's slave mount has a master), and
// unmounts it when the test ends.
func hostTmpfs(t *testing.T, shared bool) string {
	t.Helper()
	requireSetup(t)
	dir := t.TempDir()
	if err := unix.Mount("skiff-test", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if shared {
		if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
			t.Fatalf("make %s shared: %v", dir, err)
		}
	}
	return dir
}

func addMount(m specs.Mount) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Mounts = append(s.Mounts, m) }
}

func mustMountAt(t *testing.T, f *facts.Facts, point string) facts.Mount {
	t.Helper()
	m, ok := f.MountAt(point)
	if !ok {
		t.Fatalf("nothing mounted at %s in the container", point)
	}
	return m
}

func TestBindMountOptions(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "hello"), []byte("from host"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := []string{"bind", "ro", "nosuid", "nodev", "noexec"}
	m := specs.Mount{Destination: "/mnt/b", Type: "bind", Source: src, Options: opts}
	f, _ := probe(t, addMount(m))
	got := mustMountAt(t, f, "/mnt/b")
	for _, o := range opts[1:] {
		if !got.HasOption(o) {
			t.Errorf("bind mount options %v lack %s", got.Options, o)
		}
	}
	if r := probeCmd(t, addMount(m), "cat", "/mnt/b/hello"); r.Stdout != "from host" {
		t.Errorf("reading through the bind mount: %s", r)
	}
	r := probeCmd(t, addMount(m), "write", "/mnt/b/new", "x")
	var res facts.Result
	unmarshal(t, r, &res)
	if res.Errno != "EROFS" {
		t.Errorf("write into a ro bind mount: %+v, want EROFS", res)
	}
	if _, err := os.Stat(filepath.Join(src, "new")); err == nil {
		t.Errorf("write into a ro bind mount reached the host")
	}
}

// rbind carries the source's submounts into the container; bind does not.
func TestRbind(t *testing.T) {
	requireSetup(t)
	src := t.TempDir()
	sub := filepath.Join(src, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("skiff-test", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
	for _, kind := range []string{"rbind", "bind"} {
		t.Run(kind, func(t *testing.T) {
			f, _ := probe(t, addMount(specs.Mount{Destination: "/mnt/r", Type: "bind", Source: src, Options: []string{kind}}))
			mustMountAt(t, f, "/mnt/r")
			_, hasSub := f.MountAt("/mnt/r/sub")
			if hasSub != (kind == "rbind") {
				t.Errorf("%s: submount visible = %v, want %v", kind, hasSub, kind == "rbind")
			}
		})
	}
}

func TestMountPropagation(t *testing.T) {
	cases := []struct {
		opt, want string // want: the optional field prefix, "" for none
		sharedSrc bool
	}{
		{"rshared", "shared:", false},
		{"rslave", "master:", true},
		{"rprivate", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.opt, func(t *testing.T) {
			src := hostTmpfs(t, tc.sharedSrc)
			f, _ := probe(t, addMount(specs.Mount{Destination: "/mnt/p", Type: "bind", Source: src, Options: []string{"rbind", tc.opt}}))
			got := mustMountAt(t, f, "/mnt/p")
			for _, prefix := range []string{"shared:", "master:"} {
				if has := got.Propagation(prefix) != ""; has != (prefix == tc.want) {
					t.Errorf("%s: optional fields %v, want %q", tc.opt, got.Optional, tc.want)
				}
			}
		})
	}
}

func TestRootfsPropagation(t *testing.T) {
	for _, tc := range []struct{ prop, want string }{{"private", ""}, {"shared", "shared:"}} {
		t.Run(tc.prop, func(t *testing.T) {
			f, _ := probe(t, func(s *specs.Spec) { s.Linux.RootfsPropagation = tc.prop })
			root := mustMountAt(t, f, "/")
			if got := root.Propagation("shared:") + root.Propagation("master:"); !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
				t.Errorf("rootfsPropagation %s: / has %v, want %q", tc.prop, root.Optional, tc.want)
			}
		})
	}
}

func TestTmpfsOptions(t *testing.T) {
	f, _ := probe(t, addMount(specs.Mount{
		Destination: "/mnt/t", Type: "tmpfs", Source: "tmpfs",
		Options: []string{"nosuid", "nodev", "size=2m", "mode=1770"},
	}))
	got := mustMountAt(t, f, "/mnt/t")
	if got.FSType != "tmpfs" || !got.HasOption("nosuid") || !got.HasOption("nodev") ||
		!got.HasSuperOption("size=2048k") || !got.HasSuperOption("mode=1770") {
		t.Errorf("tmpfs mount %+v, want tmpfs nosuid,nodev size=2048k mode=1770", got)
	}
}

// The user namespace of the tests that have one: container root is host
// uid and gid userNSHostID, userNSSize ids mapped.
const userNSHostID, userNSSize = 100000, 65536

// withUserNS gives the spec a new user namespace with that mapping.
func withUserNS(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: userNSHostID, Size: userNSSize}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: userNSHostID, Size: userNSSize}}
}

// prepareUserNSBundle lets container root (host uid userNSHostID) own
// c's rootfs and reach its bundle through t.TempDir's 0700 directories.
func prepareUserNSBundle(t *testing.T, c *ctr) {
	t.Helper()
	if err := chownTree(c.Rootfs, userNSHostID, userNSHostID); err != nil {
		t.Fatal(err)
	}
	for dir := c.Bundle; dir != "/" && dir != os.TempDir(); dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// A user namespace mapping container root to host 100000: the maps as
// the host sees them, and root inside.
func TestUserNamespace(t *testing.T) {
	const hostID, size = userNSHostID, userNSSize
	c := newCtr(t, withUserNS)
	prepareUserNSBundle(t, c)
	r := c.create()
	pid := c.mustState().Pid
	for _, file := range []string{"uid_map", "gid_map"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
		if got := strings.Join(strings.Fields(string(b)), " "); err != nil || got != fmt.Sprintf("0 %d %d", hostID, size) {
			t.Errorf("host view of /proc/%d/%s: %q %v, want 0 %d %d", pid, file, got, err, hostID, size)
		}
	}
	c.mustRun("start", c.ID)
	if _, err := waitExit(pid, cmdTimeout); err != nil {
		t.Fatal(err)
	}
	f := parseFacts(t, result{Args: r.Args, Stdout: readString(r.StdoutPath)})
	if f.UID != 0 || f.GID != 0 {
		t.Errorf("inside: uid %d gid %d, want 0 0", f.UID, f.GID)
	}
	checkNamespaces(t, f, c.Spec)
}

func chownTree(root string, uid, gid int) error {
	return filepath.Walk(root, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// Images have symlinks like /var/run -> /run; a mount destination
// through one lands at the link's target, resolved inside the rootfs.
func TestMountThroughSymlink(t *testing.T) {
	for _, link := range []string{"/run", "../run"} {
		t.Run(link, func(t *testing.T) {
			c := newCtr(t, addMount(specs.Mount{Destination: "/var/run/x", Type: "tmpfs", Source: "tmpfs"}))
			if err := os.MkdirAll(filepath.Join(c.Rootfs, "run"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(link, filepath.Join(c.Rootfs, "var", "run")); err != nil {
				t.Fatal(err)
			}
			f := parseFacts(t, c.mustRun("run", "--bundle", c.Bundle, c.ID))
			if m := mustMountAt(t, f, "/run/x"); m.FSType != "tmpfs" {
				t.Errorf("/run/x: %+v, want tmpfs", m)
			}
		})
	}
}
