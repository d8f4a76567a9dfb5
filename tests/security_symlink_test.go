package tests

// Symlinks in the image (CVE-2019-16884, CVE-2019-19921, CVE-2023-27561,
// CVE-2023-28642, CVE-2024-45310, CVE-2025-31133, CVE-2025-52565,
// CVE-2026-41579, crun CVE-2025-24965): every path the runtime touches
// inside the rootfs is replaced by a symlink to a host canary, a
// relative ../ escape, or another procfs file. The runtime may refuse
// the bundle or confine the effect to the rootfs; it may never create,
// delete, mount or write anything on the host.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/contrib/probe/facts"
)

// imageAttack is one poisoned image.
type imageAttack struct {
	name   string
	mutate func(*specs.Spec)
	// image edits the rootfs; g's canary is the host target.
	image    func(t *testing.T, c *ctr, g *hostGuard)
	terminal bool
}

// relEscape is a relative symlink target that climbs out of any rootfs
// to the host path p if followed on the host.
func relEscape(p string) string { return strings.Repeat("../", 16) + strings.TrimPrefix(p, "/") }

func imageLink(rel string, target func(g *hostGuard) string) func(*testing.T, *ctr, *hostGuard) {
	return func(t *testing.T, c *ctr, g *hostGuard) { replaceWithSymlink(t, c, rel, target(g)) }
}

func canaryDir(g *hostGuard) string  { return g.Canary }
func canaryFile(g *hostGuard) string { return g.CanaryFile }
func fixedTarget(p string) func(*hostGuard) string {
	return func(*hostGuard) string { return p }
}

var noDevTmpfs = withoutMount("/dev")

func TestImageSymlinks(t *testing.T) {
	cases := []imageAttack{
		// /proc and /sys must be real directories (runc mounts.bats,
		// mask.bats); a symlink must not carry procfs or sysfs out.
		{name: "proc->host-canary", image: imageLink("proc", canaryDir)},
		{name: "proc->relative-escape", image: imageLink("proc", func(g *hostGuard) string { return relEscape(g.Canary) })},
		{name: "proc->dir-in-rootfs", image: func(t *testing.T, c *ctr, g *hostGuard) {
			if err := os.Mkdir(filepath.Join(c.Rootfs, "bad-proc"), 0o755); err != nil {
				t.Fatal(err)
			}
			replaceWithSymlink(t, c, "proc", "/bad-proc")
		}},
		{name: "proc->proc-self-attr", image: imageLink("proc", fixedTarget("/proc/self/attr"))},
		{name: "sys->host-canary", image: imageLink("sys", canaryDir)},
		{name: "sys->proc", image: imageLink("sys", fixedTarget("/proc"))},
		// CVE-2026-41579: /dev set up through a symlink.
		{name: "dev->host-canary", image: imageLink("dev", canaryDir)},
		{name: "dev->host-canary/no-dev-tmpfs", mutate: noDevTmpfs, image: imageLink("dev", canaryDir)},
		{name: "dev->relative-escape/no-dev-tmpfs", mutate: noDevTmpfs,
			image: imageLink("dev", func(g *hostGuard) string { return relEscape(g.Canary) })},
		// CVE-2025-31133: a fake /dev/null must never be bound over
		// the masked paths.
		{name: "dev-null->host-file/no-dev-tmpfs", mutate: noDevTmpfs, image: imageLink("dev/null", canaryFile)},
		{name: "dev-null-regular-file/no-dev-tmpfs", mutate: noDevTmpfs, image: func(t *testing.T, c *ctr, g *hostGuard) {
			if err := os.WriteFile(filepath.Join(c.Rootfs, "dev", "null"), []byte("fake null\n"), 0o666); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "dev-null->core_pattern/no-dev-tmpfs", mutate: noDevTmpfs, image: imageLink("dev/null", fixedTarget("/proc/sys/kernel/core_pattern"))},
		{name: "dev-null->sysrq-trigger/no-dev-tmpfs", mutate: noDevTmpfs, image: imageLink("dev/null", fixedTarget("/proc/sysrq-trigger"))},
		{name: "dev-null-wrong-device/no-dev-tmpfs", mutate: noDevTmpfs, image: func(t *testing.T, c *ctr, g *hostGuard) {
			// /dev/zero's numbers: a char device, but not the null one.
			if err := unix.Mknod(filepath.Join(c.Rootfs, "dev", "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
				t.Fatal(err)
			}
		}},
		// CVE-2025-52565: the console and the pty through symlinks.
		{name: "dev-console->host-file/no-dev-tmpfs", mutate: noDevTmpfs, terminal: true, image: imageLink("dev/console", canaryFile)},
		{name: "dev-ptmx->host-file/no-dev-tmpfs", mutate: noDevTmpfs, terminal: true, image: imageLink("dev/ptmx", canaryFile)},
		{name: "dev-pts->host-canary/no-dev-tmpfs", mutate: noDevTmpfs, terminal: true, image: imageLink("dev/pts", canaryDir)},
		{name: "dev-pts-0->sysrq/no-devpts", mutate: specChain(noDevTmpfs, withoutMount("/dev/pts")), terminal: true,
			image: func(t *testing.T, c *ctr, g *hostGuard) {
				replaceWithSymlink(t, c, "dev/pts/0", "/proc/sysrq-trigger")
				replaceWithSymlink(t, c, "dev/pts/ptmx", g.CanaryFile)
				replaceWithSymlink(t, c, "dev/ptmx", "pts/ptmx")
			}},
		{name: "dev-shm->host-canary/no-dev-tmpfs", mutate: noDevTmpfs, image: imageLink("dev/shm", canaryDir)},
		// Mount destinations (CVE-2021-30465, CVE-2024-45310 static).
		{name: "mount-parent->host-canary", mutate: addMount(specs.Mount{Destination: "/data/a/b", Type: "tmpfs", Source: "tmpfs"}),
			image: imageLink("data", canaryDir)},
		{name: "mount-parent->relative-escape", mutate: addMount(specs.Mount{Destination: "/data/a/b", Type: "tmpfs", Source: "tmpfs"}),
			image: imageLink("data", func(g *hostGuard) string { return relEscape(g.Canary) })},
		{name: "mount-destination->host-canary", mutate: addMount(specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs"}),
			image: imageLink("data", canaryDir)},
		{name: "bind-destination->host-canary-sub", image: imageLink("data", func(g *hostGuard) string { return filepath.Join(g.Canary, "sub") }),
			mutate: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/etc", Options: []string{"rbind", "ro"}})
			}},
		{name: "file-bind-destination->host-file", image: imageLink("etc/hostname", canaryFile),
			mutate: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/hostname", Type: "bind", Source: "/etc/hostname", Options: []string{"bind", "ro"}})
			}},
		{name: "proc-submount->host-canary", image: imageLink("data", canaryDir),
			mutate: addMount(specs.Mount{Destination: "/data/proc", Type: "proc", Source: "proc"})},
		// The working directory is created if missing (as runc does).
		{name: "cwd-parent->host-canary", mutate: func(s *specs.Spec) { s.Process.Cwd = "/work/new/dir" }, image: imageLink("work", canaryDir)},
		{name: "cwd-parent->relative-escape", mutate: func(s *specs.Spec) { s.Process.Cwd = "/work/new" },
			image: imageLink("work", func(g *hostGuard) string { return relEscape(g.Canary) })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runImageAttack(t, tc) })
	}
}

// sharedDev is CVE-2025-31133 with /dev bind-mounted from the host, as
// when containers share one: whatever is at null there, masking must
// not bind it.
func TestSharedDevFakeNull(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(dir string, g *hostGuard) error
	}{
		{"regular-file", func(dir string, g *hostGuard) error {
			return os.WriteFile(filepath.Join(dir, "null"), []byte("fake\n"), 0o666)
		}},
		{"symlink->host-file", func(dir string, g *hostGuard) error { return os.Symlink(g.CanaryFile, filepath.Join(dir, "null")) }},
		{"symlink->core_pattern", func(dir string, g *hostGuard) error {
			return os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(dir, "null"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dir string
			runImageAttack(t, imageAttack{
				mutate: func(s *specs.Spec) {
					for i, m := range s.Mounts {
						if m.Destination == "/dev" {
							s.Mounts[i] = specs.Mount{Destination: "/dev", Type: "bind", Source: dir, Options: []string{"rbind"}}
						}
					}
				},
				image: func(t *testing.T, c *ctr, g *hostGuard) {
					if err := tc.make(dir, g); err != nil {
						t.Fatal(err)
					}
				},
			}, func(t *testing.T) { dir = t.TempDir() })
		})
	}
}

// runImageAttack runs the container, its process reporting what it sees
// (probe stat of the paths the attacks aim at, then escape openw of the
// host-global procfs files), and checks: refused, or confined.
func runImageAttack(t *testing.T, tc imageAttack, before ...func(*testing.T)) {
	t.Helper()
	g := newHostGuard(t)
	for _, f := range before {
		f(t)
	}
	masked := maskedFilesOnHost(t)
	statPaths := append(append([]string{}, masked...), "/dev/null", "/dev/console", "/dev/ptmx", "/proc", "/sys", "/dev")
	openPaths := append(existingOnHost([]string{"/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger"}), masked...)
	script := fmt.Sprintf("/probe stat %s; echo; /escape openw %s", strings.Join(statPaths, " "), strings.Join(openPaths, " "))
	c := newCtr(t, specChain(tc.mutate, func(s *specs.Spec) {
		s.Process.Args = []string{"/bin/sh", "-c", script}
		s.Process.Terminal = tc.terminal
	}))
	installEscape(t, c)
	if tc.image != nil {
		tc.image(t, c, g)
	}
	var out string
	var ok bool
	if tc.terminal {
		out, ok = runWithConsole(t, c)
	} else {
		r := c.run("run", "--bundle", c.Bundle, c.ID)
		noPanic(t, r)
		out, ok = r.Stdout, r.Code == 0
		if !ok {
			t.Logf("refused (exit %d): %s", r.Code, strings.TrimSpace(r.Stderr))
		}
	}
	if g.CheckCanary("after the container ran") && ok {
		checkConfined(t, out, masked, tc.terminal)
	}
	if ok {
		t.Logf("ran confined")
	}
}

// maskedFilesOnHost are the default spec's masked paths that are files
// on this host (this kernel may lack /proc/kcore or sysrq-trigger).
func maskedFilesOnHost(t *testing.T) []string {
	var files []string
	for _, p := range existingOnHost(defaultSpec(t).Linux.MaskedPaths) {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			files = append(files, p)
		}
	}
	return files
}

// checkConfined reads the process's report: masked files must be the
// null device, host-global procfs files must not open for writing, and
// with a terminal /dev/console must be a pts.
func checkConfined(t *testing.T, out string, masked []string, terminal bool) {
	t.Helper()
	var stats []facts.Stat
	var opens map[string]string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "["):
			_ = json.Unmarshal([]byte(line), &stats)
		case strings.HasPrefix(line, "{"):
			_ = json.Unmarshal([]byte(line), &opens)
		}
	}
	if stats == nil || opens == nil {
		t.Errorf("the container ran but its report is incomplete: %q", out)
		return
	}
	byPath := map[string]facts.Stat{}
	for _, s := range stats {
		byPath[s.Path] = s
	}
	for _, p := range masked {
		if s := byPath[p]; s.Type != "char" || s.Major != 1 || s.Minor != 3 {
			t.Errorf("ESCAPE: masked %s is %+v, not the null device: the mask bound something else", p, s)
		}
	}
	for p, res := range opens {
		if res == "ok" && !isMasked(p, masked) {
			t.Errorf("ESCAPE: host-global %s opened for writing in the container", p)
		}
	}
	if terminal {
		if s := byPath["/dev/console"]; s.Type != "char" || s.Major != 136 {
			t.Errorf("/dev/console is %+v, want the container's pts (char 136:N)", s)
		}
	}
}

func isMasked(p string, masked []string) bool {
	for _, m := range masked {
		if m == p {
			return true
		}
	}
	return false
}

// runWithConsole creates the container with a console socket, starts
// it, and returns what the process wrote to its terminal.
func runWithConsole(t *testing.T, c *ctr) (string, bool) {
	t.Helper()
	sock, master := consoleSocket(t)
	pidFile := filepath.Join(c.io, "pid")
	r := c.run("create", "--bundle", c.Bundle, "--console-socket", sock, "--pid-file", pidFile, c.ID)
	noPanic(t, r)
	if r.Code != 0 {
		t.Logf("refused (exit %d): %s", r.Code, strings.TrimSpace(r.Stderr))
		return "", false
	}
	var pid int
	fmt.Sscan(readString(pidFile), &pid)
	c.remember(pid)
	m := master()
	if m == nil {
		t.Errorf("create succeeded but sent no pty master")
		return "", false
	}
	var buf strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&buf, m) // ends with EIO once the process is gone
	}()
	c.mustRun("start", c.ID)
	if _, err := waitExit(pid, cmdTimeout); err != nil {
		t.Error(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		m.Close()
		<-done
	}
	return strings.ReplaceAll(buf.String(), "\r", ""), true
}
