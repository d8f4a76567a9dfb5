package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// The suite hard-codes these (runtime-tools cgroups.AbsCgroupPath and
// the first element of RelCgroupPath).
const (
	suiteAbsCgroup = "cgrouptest"
	suiteRelCgroup = "testdir"
)

// cgroupJanitor knows the cgroup directories the suite may leave behind
// and which of them already existed before the run, so that it only ever
// removes what this run created.
type cgroupJanitor struct {
	candidates  []string
	preexisting map[string]bool
}

// newCgroupJanitor lists, for every mounted cgroup hierarchy, the
// absolute test cgroup (/cgrouptest) and the relative one's top directory
// (testdir, placed by runtimes under their own cgroup, which is ours since
// the runtime is our descendant).
func newCgroupJanitor() (*cgroupJanitor, error) {
	mounts, err := readMountinfo()
	if err != nil {
		return nil, err
	}
	own, err := readOwnCgroups()
	if err != nil {
		return nil, err
	}
	j := &cgroupJanitor{preexisting: map[string]bool{}}
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			j.candidates = append(j.candidates, p)
		}
	}
	for _, m := range mounts {
		var key string
		switch m.FSType {
		case "cgroup2":
			key = ""
		case "cgroup":
			key = v1Key(m.Options)
		default:
			continue
		}
		add(filepath.Join(m.Point, suiteAbsCgroup))
		// Some runtimes resolve a relative cgroupsPath against the
		// hierarchy root rather than their own cgroup.
		add(filepath.Join(m.Point, suiteRelCgroup))
		path, ok := own[key]
		if !ok {
			continue
		}
		// Inside a cgroup namespace or a bind of a subtree, the mount
		// root is a prefix of our path that the mountpoint already shows.
		rel := strings.TrimPrefix(path, strings.TrimSuffix(m.Root, "/"))
		add(filepath.Join(m.Point, rel, suiteRelCgroup))
	}
	for _, c := range j.candidates {
		if _, err := os.Lstat(c); err == nil {
			j.preexisting[c] = true
		}
	}
	return j, nil
}

// v1Key reduces a v1 superblock option string ("rw,cpu,cpuacct" or
// "rw,name=systemd") to the controller list used in /proc/self/cgroup.
func v1Key(opts string) string {
	var ctrls []string
	for _, o := range strings.Split(opts, ",") {
		switch {
		case o == "rw" || o == "ro" || strings.HasPrefix(o, "release_agent=") ||
			o == "clone_children" || o == "noprefix" || o == "xattr" ||
			o == "cpuset_v2_mode" || o == "favordynmods":
		default:
			ctrls = append(ctrls, o)
		}
	}
	sort.Strings(ctrls)
	return strings.Join(ctrls, ",")
}

// readOwnCgroups maps each hierarchy's controller key (sorted, "" for
// cgroup2) to this process's path in it.
func readOwnCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls := strings.Split(parts[1], ",")
		sort.Strings(ctrls)
		out[strings.Join(ctrls, ",")] = parts[2]
	}
	return out, nil
}

// warnPreexisting lists test cgroups that were there before the run; the
// janitor leaves them alone, and they may skew the cgroup programs.
func (j *cgroupJanitor) warnPreexisting() []string {
	var out []string
	for _, c := range j.candidates {
		if j.preexisting[c] {
			out = append(out, c)
		}
	}
	return out
}

// sweep removes, deepest first, every directory under each candidate this
// run created. rmdir only succeeds on empty cgroups, so a cgroup that
// still holds a process is reported rather than forced.
func (j *cgroupJanitor) sweep() (removed int, errs []error) {
	for _, c := range j.candidates {
		if j.preexisting[c] {
			continue
		}
		if _, err := os.Lstat(c); err != nil {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(c, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(a, b int) bool {
			return strings.Count(dirs[a], "/") > strings.Count(dirs[b], "/")
		})
		for _, d := range dirs {
			if err := syscall.Rmdir(d); err != nil && err != syscall.ENOENT {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
				continue
			}
			removed++
		}
	}
	return removed, errs
}
