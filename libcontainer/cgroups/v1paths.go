package cgroups

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/cgroups"

	"github.com/skiff-runtime/skiff/libcontainer/sysfile"
)

// v1Subsystems are the hierarchies the library's cgroupfs manager
// (github.com/opencontainers/cgroups/fs) places a container in, under
// the names its path map uses; TestV1PathsMatchLibrary keeps the two
// lists together.
var v1Subsystems = []string{
	"cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio",
	"hugetlb", "net_cls", "net_prio", "perf_event", "freezer", "rdma",
	"name=systemd", "misc",
}

// hybridMountpoint is where a hybrid host mounts cgroup v2 (the library's
// choice as well).
const hybridMountpoint = "/sys/fs/cgroup/unified"

// cgroupV1Mount is a cgroup v1 hierarchy from /proc/self/mountinfo.
type cgroupV1Mount struct {
	mountpoint string
	root       string   // the mount's root within the hierarchy
	options    []string // super options: the controllers, name=...
}

// v1Paths computes the cgroup's directory in every hierarchy of a cgroup
// v1 or hybrid host for the cgroupfs driver: what the library's fs
// manager computes when it is given no paths, from one read of
// /proc/self/mountinfo (and of /proc/self/cgroup for a relative path).
// The library stats each hierarchy through securejoin and reads
// mountinfo again: some 60 system calls on every create.
//
// As there: an absolute path is below the hierarchy's mount, a relative
// one below skiff's own cgroup in it (but below the mount of the unified
// hierarchy of a hybrid host); a hierarchy that is not mounted is left
// out, except devices, without which a container would reach the host's
// disks.
func v1Paths(cg *cgroups.Cgroup) (map[string]string, error) {
	inner := innerPath(cg)
	mounts, err := readCgroupV1Mounts()
	if err != nil {
		return nil, err
	}
	if len(mounts) == 0 {
		return nil, fmt.Errorf("cgroup manager: no cgroup mount found in mountinfo")
	}
	root := filepath.Dir(mounts[0].mountpoint)
	var own map[string]string
	if !filepath.IsAbs(inner) {
		if own, err = cgroups.ParseCgroupFile("/proc/self/cgroup"); err != nil {
			return nil, err
		}
	}
	// The library looks for an absolute path's mount below the root, and
	// for a relative one's anywhere.
	prefix := root
	if own != nil {
		prefix = ""
	}
	paths := make(map[string]string, len(v1Subsystems)+1)
	for _, sub := range v1Subsystems {
		var m *cgroupV1Mount
		for i := range mounts {
			if strings.HasPrefix(mounts[i].mountpoint, prefix) && slices.Contains(mounts[i].options, sub) {
				m = &mounts[i]
				break
			}
		}
		switch {
		case m == nil:
			if sub == "devices" {
				return nil, fmt.Errorf("cgroup manager: %w", cgroups.NewNotFoundError(sub))
			}
			continue
		case own == nil:
			paths[sub] = filepath.Join(root, filepath.Base(m.mountpoint), inner)
		default:
			mine, ok := own[sub]
			if !ok {
				mine, ok = own[cgroups.CgroupNamePrefix+sub]
			}
			if !ok {
				if sub == "devices" {
					return nil, fmt.Errorf("cgroup manager: %w", cgroups.NewNotFoundError(sub))
				}
				continue
			}
			rel, err := filepath.Rel(m.root, mine)
			if err != nil {
				return nil, err
			}
			paths[sub] = filepath.Join(m.mountpoint, rel, inner)
		}
	}
	if cgroups.IsCgroup2HybridMode() {
		if own == nil {
			paths[""] = filepath.Join(root, filepath.Base(hybridMountpoint), inner)
		} else if _, ok := own[""]; ok {
			paths[""] = filepath.Join(hybridMountpoint, inner)
		}
	}
	return paths, nil
}

// innerPath is the cgroup's path as the library cleans it: an absolute
// path stays absolute, a relative one cannot climb out with "..".
func innerPath(cg *cgroups.Cgroup) string {
	clean := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		rel, _ := filepath.Rel("/", filepath.Clean("/"+p))
		return rel
	}
	if cg.Path != "" {
		return clean(cg.Path)
	}
	parent, name := "", ""
	if cg.Parent != "" {
		parent = clean(cg.Parent)
	}
	if cg.Name != "" {
		name = clean(cg.Name)
	}
	return filepath.Join(parent, name)
}

// readCgroupV1Mounts lists the cgroup v1 mounts of skiff's mount
// namespace, in mountinfo's order.
func readCgroupV1Mounts() ([]cgroupV1Mount, error) {
	data, err := sysfile.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseCgroupV1Mounts(data)
}

func parseCgroupV1Mounts(data []byte) ([]cgroupV1Mount, error) {
	infos, err := mountinfo.GetMountsFromReader(bytes.NewReader(data), mountinfo.FSTypeFilter("cgroup"))
	if err != nil {
		return nil, fmt.Errorf("parse /proc/self/mountinfo: %w", err)
	}
	mounts := make([]cgroupV1Mount, len(infos))
	for i, m := range infos {
		mounts[i] = cgroupV1Mount{mountpoint: m.Mountpoint, root: m.Root, options: strings.Split(m.VFSOptions, ",")}
	}
	return mounts, nil
}
