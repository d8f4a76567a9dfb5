package tests

// The racing variants of the symlink attacks: a second process (contrib
// escape flip, on the host, ended by PID) exchanges a path in the rootfs
// with a symlink to a host canary in a tight loop (renameat2
// RENAME_EXCHANGE) while the runtime creates and deletes the container
// over and over. SKIFF_SECURITY_ITERATIONS sets the rounds (runc's
// advisories ask for 1,000), SKIFF_SECURITY_RACE_SECONDS caps each test.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/contrib/probe/facts"
)

type raceCase struct {
	mutate func(*specs.Spec)
	// dir/entry (relative to the rootfs) is flipped with a symlink to
	// target; prepare makes the real entry.
	dir, entry string
	target     func(g *hostGuard) string
	// onCreate: the flipper replaces the entry by the symlink each time
	// the runtime creates it, instead of exchanging in a loop.
	onCreate bool
	prepare  func(t *testing.T, c *ctr)
	// check looks at a container the runtime managed to create.
	check func(t *testing.T, c *ctr, pid int)
}

func mkdirIn(rel string) func(*testing.T, *ctr) {
	return func(t *testing.T, c *ctr) {
		if err := os.MkdirAll(filepath.Join(c.Rootfs, rel), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func runRace(t *testing.T, rc raceCase) {
	t.Helper()
	g := newHostGuard(t)
	c := newCtr(t, specChain(sleeper, rc.mutate))
	if rc.prepare != nil {
		rc.prepare(t, c)
	}
	target := rc.target(g)
	f := startFlipper(t, filepath.Join(c.Rootfs, rc.dir), rc.entry, target, rc.onCreate)
	start := time.Now()
	deadline := start.Add(raceBudget())
	rounds, created := 0, 0
	refusals := map[string]int{}
	for rounds < raceIterations() && time.Now().Before(deadline) && !t.Failed() {
		rounds++
		pid, r := createQuiet(c)
		noPanic(t, r)
		if pid > 0 {
			created++
			if rc.check != nil {
				rc.check(t, c, pid)
			}
		} else {
			refusals[lastLine(r.Stderr)]++
		}
		if d := c.run("delete", "--force", c.ID); d.Code != 0 && !strings.Contains(d.Stderr, "does not exist") {
			t.Errorf("round %d: delete: %s", rounds, d)
		}
		g.CheckCanary(fmt.Sprintf("round %d", rounds))
	}
	flips := f.stop(t)
	t.Logf("%d rounds in %v: %d created, %d refused; %d flips of %s/%s with -> %s",
		rounds, time.Since(start).Round(time.Millisecond), created, rounds-created, flips, rc.dir, rc.entry, target)
	for msg, n := range refusals {
		t.Logf("refused %d times: %s", n, msg)
	}
	if rounds < raceIterations() && !t.Failed() {
		t.Logf("stopped after %d of %d rounds: the %v budget (SKIFF_SECURITY_RACE_SECONDS) ran out", rounds, raceIterations(), raceBudget())
	}
	if flips == 0 && !rc.onCreate {
		t.Errorf("the flipper never exchanged anything: the race was not run")
	}
}

// lastLine strips the variable parts of an error for counting.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := lines[len(lines)-1]
	if i := strings.Index(l, "msg="); i >= 0 {
		l = l[i+4:]
	}
	return l
}

// containerMounts reads pid's mountinfo as the container sees it.
func containerMounts(t *testing.T, pid int) []facts.Mount {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Errorf("mountinfo of %d: %v", pid, err)
		return nil
	}
	m, _ := facts.ParseMountinfo(b)
	return m
}

// mountsBelowVolP adds a tmpfs and a bind of src below /vol/p, the
// directory the race tests flip.
func mountsBelowVolP(src string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/vol/p/q/r", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/vol/p/b", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	}
}

// CVE-2021-30465 / CVE-2024-45310 / crun CVE-2019-18837: the parent of
// a tmpfs and a bind mount destination flips to a host directory.
func TestRaceMountDestination(t *testing.T) {
	src := t.TempDir()
	runRace(t, raceCase{
		mutate: mountsBelowVolP(src),
		dir:    "vol", entry: "p", target: canaryDir, prepare: mkdirIn("vol/p"),
		check: func(t *testing.T, c *ctr, pid int) {
			for _, m := range containerMounts(t, pid) {
				if m.FSType != "tmpfs" && strings.HasSuffix(m.MountPoint, "/b") && m.Root != src {
					t.Errorf("bind at %s has root %s, want %s", m.MountPoint, m.Root, src)
				}
			}
		},
	})
}

// CVE-2019-19921 / CVE-2023-27561: /proc flips to a symlink; procfs
// must land on the rootfs's real proc directory or the create must
// fail. The flipper may rename that directory after the mount (to
// /.proc-flip): a host process can, the container cannot; what must
// never happen is a procfs mounted where the symlink points, or a
// procfs without its masked and read-only paths (masking that fails
// open because the path it went through was a symlink just then).
func TestRaceProc(t *testing.T) {
	spec := defaultSpec(t)
	ro := existingOnHost(spec.Linux.ReadonlyPaths)
	masked := existingOnHost(spec.Linux.MaskedPaths)
	runRace(t, raceCase{
		dir: ".", entry: "proc", target: canaryDir,
		check: func(t *testing.T, c *ctr, pid int) {
			// Mount points are read while the flipper renames the
			// directory, so they are matched by the mount tree (parent
			// ids) and the last components, not by the full path.
			mounts := containerMounts(t, pid)
			byID := map[int]facts.Mount{}
			procID := -1
			for _, m := range mounts {
				byID[m.ID] = m
				if m.FSType != "proc" {
					continue
				}
				if !underAny(m.MountPoint, "/proc", "/.proc-flip") {
					t.Errorf("procfs mounted at %s: the symlink was followed", m.MountPoint)
				}
				if m.Root == "/" && procID < 0 {
					procID = m.ID
				}
			}
			if procID < 0 {
				t.Errorf("created, but no procfs in the container")
				return
			}
			covered := func(p string, wantRO bool) bool {
				rel := "/" + strings.TrimPrefix(p, "/proc/")
				for _, m := range mounts {
					if !strings.HasSuffix(m.MountPoint, rel) || (wantRO && !m.HasOption("ro")) {
						continue
					}
					for id, depth := m.Parent, 0; depth < 8; id, depth = byID[id].Parent, depth+1 {
						if id == procID {
							return true
						}
					}
				}
				return false
			}
			for _, p := range ro {
				if strings.HasPrefix(p, "/proc/") && !covered(p, true) {
					t.Errorf("ESCAPE: read-only path %s is not read-only on the container's procfs", p)
				}
			}
			for _, p := range masked {
				if strings.HasPrefix(p, "/proc/") && !covered(p, false) {
					t.Errorf("ESCAPE: masked path %s is not masked on the container's procfs", p)
				}
			}
			if t.Failed() {
				for _, m := range mounts {
					t.Logf("container mount %d (parent %d): %s %s root=%s %v", m.ID, m.Parent, m.MountPoint, m.FSType, m.Root, m.Options)
				}
			}
		},
	})
}

func underAny(p string, dirs ...string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// CVE-2026-41579: /dev flips to a symlink while the devices and their
// links are made (no /dev tmpfs, so they go into the image's /dev).
func TestRaceDev(t *testing.T) {
	runRace(t, raceCase{mutate: noDevTmpfs, dir: ".", entry: "dev", target: canaryDir})
}

// CVE-2025-31133: /dev/null flips to a symlink to core_pattern while
// the masked paths are bound; a mask must be the null device.
func TestRaceDevNull(t *testing.T) {
	masked := maskedFilesOnHost(t)
	runRace(t, raceCase{
		mutate: noDevTmpfs, dir: "dev", entry: "null", target: fixedTarget("/proc/sys/kernel/core_pattern"),
		prepare: func(t *testing.T, c *ctr) {
			if err := unix.Mknod(filepath.Join(c.Rootfs, "dev", "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, c *ctr, pid int) {
			for _, p := range masked {
				var st unix.Stat_t
				hp := fmt.Sprintf("/proc/%d/root%s", pid, p)
				if err := unix.Lstat(hp, &st); err != nil {
					t.Errorf("lstat %s: %v", hp, err)
				} else if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
					t.Errorf("ESCAPE: masked %s is mode %o rdev %d:%d, not the null device", p, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
				}
			}
		},
	})
}

// The same with the symlink aimed at a host file: the device steps
// (mknod, chown, chmod) must never act on it. A chmod that follows the
// symlink before pivot_root changes the host file's mode. Both ways of
// racing: exchanging in a loop, and replacing the node the moment the
// runtime has made it (inotify).
func TestRaceDevNullHostFile(t *testing.T) {
	for _, onCreate := range []bool{false, true} {
		t.Run(fmt.Sprintf("on-create=%v", onCreate), func(t *testing.T) {
			runRace(t, raceCase{
				mutate: noDevTmpfs, dir: "dev", entry: "null", target: canaryFile, onCreate: onCreate,
				prepare: func(t *testing.T, c *ctr) {
					if err := unix.Mknod(filepath.Join(c.Rootfs, "dev", "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
						t.Fatal(err)
					}
				},
			})
		})
	}
}

// The working directory's parent flips to a host directory while the
// runtime creates the missing directories (on a writable root: with a
// read-only one there is nothing to create).
func TestRaceCwd(t *testing.T) {
	runRace(t, raceCase{
		mutate: func(s *specs.Spec) { s.Process.Cwd = "/work/a/b"; s.Root.Readonly = false },
		dir:    ".", entry: "work", target: canaryDir, prepare: mkdirIn("work"),
	})
}
