package tests

// Kernels without openat2 (before 5.6), or an outer runtime's seccomp
// profile that hides it. skiff's init then resolves every path in the
// rootfs and in its procfs with a walk of its own
// (libcontainer/nsenter/resolve.c), and the parent its procfs writes
// (uid/gid maps, oom_score_adj) with securejoin's. TestNoOpenat2 builds
// contrib/noopenat2, under which openat2 answers ENOSYS, checks skiff
// really takes the fallback under it, and runs the symlink, race, procfs
// and mount tests again with every runtime invocation wrapped
// (SKIFF_WRAPPER). TestResolveEscapes aims the lookups themselves at
// the host (links to /, ../../.., absolute links, loops, link chains, a
// magic link) and TestRaceRelativeEscape races a ../ escape: with and
// without openat2 the outcome must be the same, and the host untouched.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// noOpenat2Tests are what TestNoOpenat2 runs again without openat2:
// every test whose runtime lookups go through openat2 in the init
// (mount destinations, /dev, masked and read-only paths, the console,
// sysctls) or in the parent (id maps, oom_score_adj, HOME).
const noOpenat2Tests = "^(TestImageSymlinks|TestSharedDevFakeNull|TestRace.*|TestResolveEscapes|" +
	"TestMaskedPaths|TestReadonlyPathWrite|TestReadonlyRootfs|TestSysctl|TestOOMScoreAdj|TestUserNamespace|" +
	"TestMountThroughSymlink|TestTmpfsOptions|TestMountDestinationEscape|TestProcessEnvLikeRunc)$"

// fallbackMessage is what skiff's init logs (--debug) when it finds
// openat2 missing.
const fallbackMessage = "resolving paths with the fallback walk"

func runtimeIsSkiff() bool { return strings.HasPrefix(filepath.Base(runtimeBin), "skiff") }

// buildNoOpenat2 builds contrib/noopenat2 (static) into a directory of
// the test's.
func buildNoOpenat2(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), "noopenat2")
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", out, "../contrib/noopenat2")
	cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := startTracked(cmd); err != nil {
		t.Fatal(err)
	}
	if err := waitTracked(cmd); err != nil {
		t.Fatalf("building contrib/noopenat2: %v\n%s", err, log.String())
	}
	return out
}

// requireNoOpenat2 skips a test that runs skiff under contrib/noopenat2
// where it cannot: in a run already wrapped, or off x86-64.
func requireNoOpenat2(t *testing.T) {
	t.Helper()
	requireSetup(t)
	if len(runtimeWrapper()) > 0 {
		t.Skip("this run is already wrapped (SKIFF_WRAPPER)")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("contrib/noopenat2 filters the x86-64 syscall ABI only")
	}
}

func TestNoOpenat2(t *testing.T) {
	requireNoOpenat2(t)
	wrapper := buildNoOpenat2(t)
	t.Run("fallback-taken", func(t *testing.T) { checkFallbackTaken(t, wrapper) })
	t.Run("rerun", func(t *testing.T) { rerunWrapped(t, wrapper) })
}

// checkFallbackTaken runs one container under the wrapper with a mount
// through a symlink, a sysctl and oom_score_adj, and requires that it
// works and (for skiff) that the init said it fell back.
func checkFallbackTaken(t *testing.T, wrapper string) {
	adj := 321
	c := newCtr(t, specChain(addMount(specs.Mount{Destination: "/var/run/x", Type: "tmpfs", Source: "tmpfs"}), func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		s.Process.OOMScoreAdj = &adj
	}))
	if err := os.MkdirAll(filepath.Join(c.Rootfs, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../run", filepath.Join(c.Rootfs, "var", "run")); err != nil {
		t.Fatal(err)
	}
	// ENOSYS (an old kernel), then EPERM (an old seccomp profile).
	for _, w := range [][]string{{wrapper}, {wrapper, "-eperm"}} {
		r := c.runWith(runOpts{wrapper: w}, "--debug", "run", "--bundle", c.Bundle, c.ID)
		if r.Code != 0 {
			t.Fatalf("without openat2 (%v): %s", w, r)
		}
		f := parseFacts(t, r)
		if m := mustMountAt(t, f, "/run/x"); m.FSType != "tmpfs" {
			t.Errorf("%v: /run/x: %+v, want tmpfs", w, m)
		}
		if f.OOMScoreAdj != adj {
			t.Errorf("%v: oom_score_adj %d, want %d", w, f.OOMScoreAdj, adj)
		}
		if runtimeIsSkiff() && !strings.Contains(r.Stderr, fallbackMessage) {
			t.Errorf("the init never said %q: is openat2 really gone under %v?\n%s", fallbackMessage, w, r.Stderr)
		}
	}
	// And with openat2 the init never falls back.
	c2 := newCtr(t, nil)
	if r := c2.mustRun("--debug", "run", "--bundle", c2.Bundle, c2.ID); strings.Contains(r.Stderr, fallbackMessage) {
		t.Errorf("the init fell back although openat2 is there:\n%s", r.Stderr)
	}
}

// rerunWrapped runs noOpenat2Tests in a fresh copy of this test binary
// with SKIFF_WRAPPER set, and reports each test's outcome.
func rerunWrapped(t *testing.T, wrapper string) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "rerun.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run", noOpenat2Tests, "-test.count=1", "-test.v", "-test.timeout=11m")
	cmd.Env = append(os.Environ(), "SKIFF_WRAPPER="+wrapper, "SKIFF_BINARY="+runtimeBin)
	// A file, not a pipe: nothing the run leaves behind can hold it open.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	start := time.Now()
	if err := startTracked(cmd); err != nil {
		t.Fatal(err)
	}
	err = waitTracked(cmd)
	out := readString(logPath)
	var passed, skipped, failed []string
	for _, line := range strings.Split(out, "\n") {
		// Top-level results only: subtests' are indented.
		switch {
		case strings.HasPrefix(line, "--- PASS: "):
			passed = append(passed, strings.Fields(line)[2])
		case strings.HasPrefix(line, "--- SKIP: "):
			skipped = append(skipped, strings.Fields(line)[2])
		case strings.HasPrefix(line, "--- FAIL: "):
			failed = append(failed, strings.Fields(line)[2])
		}
	}
	t.Logf("without openat2, in %v: passed %v; skipped %v", time.Since(start).Round(time.Second), passed, skipped)
	if err != nil || len(failed) > 0 || len(passed) == 0 {
		t.Errorf("without openat2 (%s): failed %v (%v); the run's output:\n%s", wrapper, failed, err, out)
	}
}

// resolveLink is one symlink put in the image.
type resolveLink struct {
	path   string // relative to the rootfs
	target func(g *hostGuard) string
}

func to(target string) func(*hostGuard) string { return func(*hostGuard) string { return target } }

// chain is n links l0 -> l1 -> ... -> l(n-1) -> target.
func chain(n int, target string) []resolveLink {
	var links []resolveLink
	for i := 0; i < n; i++ {
		next := fmt.Sprintf("l%d", i+1)
		if i == n-1 {
			next = target
		}
		links = append(links, resolveLink{fmt.Sprintf("l%d", i), to(next)})
	}
	return links
}

type resolveCase struct {
	name  string
	dirs  []string // made in the rootfs before the links
	links []resolveLink
	dest  string // a tmpfs is mounted here
	// want is where the tmpfs must be in the container; nil: the
	// create must be refused (ELOOP).
	want      func(g *hostGuard) string
	skiffOnly bool // openat2's own limits, which runc's lookups do not share
	// mirror makes the host canary's path inside the rootfs too, so a
	// link to it resolves (in the root) to a directory.
	mirror bool
}

func TestResolveEscapes(t *testing.T) {
	canaryX := func(g *hostGuard) string { return g.Canary + "/x" }
	cases := []resolveCase{
		{name: "link-to-root", links: []resolveLink{{"data", to("/")}}, dest: "/data/x", want: to("/x")},
		{name: "link-to-dotdots", links: []resolveLink{{"data", to(strings.Repeat("../", 12))}}, dest: "/data/x", want: to("/x")},
		{name: "link-through-dotdots", dirs: []string{"d1/d2"},
			links: []resolveLink{{"data", to("d1/d2/../../../../../../etc")}}, dest: "/data/x", want: to("/etc/x")},
		{mirror: true, name: "absolute-link-to-host-canary", links: []resolveLink{{"data", canaryDir}}, dest: "/data/x", want: canaryX},
		{mirror: true, name: "absolute-link-dotdots-host-canary", links: []resolveLink{{"data", func(g *hostGuard) string { return "/../../.." + g.Canary }}},
			dest: "/data/x", want: canaryX},
		{mirror: true, name: "nested-relative-escape", dirs: []string{"a/b"},
			links: []resolveLink{{"a/b/c", func(g *hostGuard) string { return relEscape(g.Canary) }}}, dest: "/a/b/c/x", want: canaryX},
		{mirror: true, name: "link-to-link-to-host", links: []resolveLink{{"data", to("hop")}, {"hop", canaryDir}}, dest: "/data/x", want: canaryX},
		{name: "chain-of-40", dirs: []string{"end"}, links: chain(40, "/end"), dest: "/l0/x", want: to("/end/x")},
		{name: "chain-of-41", dirs: []string{"end"}, links: chain(41, "/end"), dest: "/l0/x", skiffOnly: true},
		{name: "self-loop", links: []resolveLink{{"data", to("data")}}, dest: "/data/x"},
		{name: "two-link-loop", links: []resolveLink{{"a", to("b")}, {"b", to("/a")}}, dest: "/a/x"},
		{name: "dotdot-loop", links: []resolveLink{{"data", to("data/../data")}}, dest: "/data/x"},
		{name: "magic-link", links: []resolveLink{{"data", to("/proc/self/root")}}, dest: "/data/x", skiffOnly: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skiffOnly && !runtimeIsSkiff() {
				t.Skip("an openat2 limit; " + filepath.Base(runtimeBin) + " resolves otherwise")
			}
			g := newHostGuard(t)
			c := newCtr(t, addMount(specs.Mount{Destination: tc.dest, Type: "tmpfs", Source: "tmpfs"}))
			for _, d := range tc.dirs {
				if err := os.MkdirAll(filepath.Join(c.Rootfs, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tc.mirror {
				if err := os.MkdirAll(filepath.Join(c.Rootfs, g.Canary), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, l := range tc.links {
				replaceWithSymlink(t, c, l.path, l.target(g))
			}
			r := c.run("run", "--bundle", c.Bundle, c.ID)
			noPanic(t, r)
			g.CheckCanary("after the container ran")
			if tc.want == nil {
				if r.Code == 0 {
					t.Errorf("the container ran, want the create refused (ELOOP):\n%s", r)
				} else if !strings.Contains(r.Stderr, "too many levels of symbolic links") {
					t.Errorf("refused, but not for the loop (ELOOP):\n%s", r)
				}
				return
			}
			if r.Code != 0 {
				t.Fatalf("refused, want the tmpfs at %s: %s", tc.want(g), r)
			}
			f := parseFacts(t, r)
			if m := mustMountAt(t, f, tc.want(g)); m.FSType != "tmpfs" {
				t.Errorf("%s: %+v, want the tmpfs", tc.want(g), m)
			}
		})
	}
}

// A ../ escape, raced: vol/p flips between a directory and a symlink
// climbing out by ".." to the host canary while a tmpfs and a bind are
// mounted below it. ".." must stop at the rootfs, whether the kernel
// (openat2) or the init's walk resolves it.
func TestRaceRelativeEscape(t *testing.T) {
	src := t.TempDir()
	runRace(t, raceCase{
		mutate: mountsBelowVolP(src),
		dir:    "vol", entry: "p", target: func(g *hostGuard) string { return relEscape(g.Canary) }, prepare: mkdirIn("vol/p"),
		check: func(t *testing.T, c *ctr, pid int) {
			for _, m := range containerMounts(t, pid) {
				if m.FSType != "tmpfs" && strings.HasSuffix(m.MountPoint, "/b") && m.Root != src {
					t.Errorf("bind at %s has root %s, want %s", m.MountPoint, m.Root, src)
				}
			}
		},
	})
}
