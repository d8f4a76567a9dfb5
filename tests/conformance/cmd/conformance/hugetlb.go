package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// hugetlbMarker records a hugetlb mount a run had to leave behind (other
// processes still had cgroups in it), so that the next run adopts and
// removes it instead of mistaking it for the host's own.
const hugetlbMarker = "/run/skiff-conformance.hugetlb"

// hugetlbMount is a v1 hugetlb hierarchy this run mounted. On a hybrid
// host where hugetlb is left to cgroup2 (available but not enabled), crun
// refuses to start ("cgroups in hybrid mode not supported, drop all
// controllers from cgroupv2"), and the suite's hugetlb programs read
// <cgroup root>/hugetlb, so the run binds hugetlb to v1 for its duration.
type hugetlbMount struct {
	dir     string
	adopted bool // mounted by an earlier run that could not remove it
}

// mountHugetlbV1 mounts hugetlb as a v1 hierarchy next to the others
// unless some v1 hierarchy already has it. It returns nil (and no error)
// when nothing needed doing.
func mountHugetlbV1() (*hugetlbMount, error) {
	mounts, err := readMountinfo()
	if err != nil {
		return nil, err
	}
	left, _ := os.ReadFile(hugetlbMarker)
	base := ""
	for _, m := range mounts {
		if m.FSType != "cgroup" {
			continue
		}
		for _, o := range strings.Split(m.Options, ",") {
			if o != "hugetlb" {
				continue
			}
			if len(left) > 0 && m.Point == strings.TrimSpace(string(left)) {
				return &hugetlbMount{dir: m.Point, adopted: true}, nil
			}
			return nil, nil
		}
		if base == "" {
			// The suite takes the cgroup root from the first v1
			// mount; the new hierarchy has to sit beside it.
			base = filepath.Dir(m.Point)
		}
	}
	if base == "" {
		return nil, nil // no v1 hierarchies at all: nothing to mirror
	}
	dir := filepath.Join(base, "hugetlb")
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("%s exists but is not a hugetlb mount; leaving it alone", dir)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := syscall.Mount("cgroup", dir, "cgroup", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "hugetlb"); err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("mount v1 hugetlb hierarchy at %s: %w", dir, err)
	}
	return &hugetlbMount{dir: dir}, nil
}

// release unmounts the hierarchy and removes its directory. While the
// run had it mounted, other cgroup users on the host (a concurrent test
// of some runtime, say) may have made cgroups in it; unmounting then
// would leave the hierarchy alive but unreachable, and hugetlb could not
// go back to cgroup2. So it waits a while for those to go, and otherwise
// leaves the mount for the next run to adopt.
func (h *hugetlbMount) release(wait time.Duration) error {
	if h == nil {
		return nil
	}
	deadline := time.Now().Add(wait)
	for {
		child, err := firstChildDir(h.dir)
		if err != nil {
			return err
		}
		if child == "" {
			break
		}
		if time.Now().After(deadline) {
			if err := os.WriteFile(hugetlbMarker, []byte(h.dir+"\n"), 0o644); err != nil {
				return err
			}
			return fmt.Errorf("%s still has child cgroup %s (not made by this run); left mounted for the next run to remove", h.dir, child)
		}
		time.Sleep(time.Second)
	}
	if err := unmountHierarchy(h.dir); err != nil {
		if mounted(h.dir) {
			_ = os.WriteFile(hugetlbMarker, []byte(h.dir+"\n"), 0o644)
		}
		return err
	}
	if err := os.Remove(h.dir); err != nil {
		return err
	}
	if err := os.Remove(hugetlbMarker); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func firstChildDir(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.IsDir() {
			return e.Name(), nil
		}
	}
	return "", nil
}

// unmountHierarchy unmounts a v1 hugetlb hierarchy until the kernel has
// really destroyed it. The kernel only starts destroying a hierarchy when
// its last mount goes while the root has no children, and cgroups removed
// moments earlier still count as children until they are released; the
// hierarchy then lingers unmounted and keeps hugetlb away from cgroup2.
// Mounting it again (which reuses it) and unmounting later fixes that.
func unmountHierarchy(dir string) error {
	for try := 0; ; try++ {
		if err := syscall.Unmount(dir, 0); err != nil {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
		time.Sleep(200 * time.Millisecond)
		if !hugetlbOnV1() {
			return nil
		}
		if try == 10 {
			return fmt.Errorf("the hugetlb v1 hierarchy survives unmounting %s; hugetlb stays off cgroup2 until it is mounted and unmounted again", dir)
		}
		time.Sleep(time.Second)
		if err := syscall.Mount("cgroup", dir, "cgroup", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "hugetlb"); err != nil {
			return fmt.Errorf("remount %s to finish removing it: %w", dir, err)
		}
	}
}

// hugetlbOnV1 reports whether hugetlb is bound to a v1 hierarchy
// (/proc/cgroups gives its hierarchy id; 0 means cgroup2 or none).
func hugetlbOnV1() bool {
	data, err := os.ReadFile("/proc/cgroups")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "hugetlb" {
			return f[1] != "0"
		}
	}
	return false
}

func mounted(dir string) bool {
	mounts, err := readMountinfo()
	if err != nil {
		return false
	}
	for _, m := range mounts {
		if m.Point == dir {
			return true
		}
	}
	return false
}
