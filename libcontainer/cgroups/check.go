package cgroups

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// UnsupportedError is a requested resource this host's cgroups cannot
// apply. Field is its path below linux.resources, as config.json spells
// it ("memory.swap", "hugepageLimits[0]").
type UnsupportedError struct {
	Field  string
	Reason string
}

func (e *UnsupportedError) Error() string { return e.Field + ": " + e.Reason }

// CheckResources makes sure that every value r sets has a cgroup file to
// go to in the cgroup given by paths. The library skips some of what a
// host lacks without a word (blkio.weight without a proportional I/O
// scheduler, swappiness on v2), and a limit that silently does not
// apply is worse than an error. Device rules are not checked here.
func CheckResources(paths map[string]string, r *specs.LinuxResources) error {
	return checkResources(paths, r, cgroups.IsCgroup2UnifiedMode())
}

// CheckCreate is CheckResources for a new container: its errors name
// the config.json field (linux.resources.<field>), and kernel memory
// limits, which runtime-spec v1.3.0 deprecates and lets runtimes ignore,
// are a warning instead.
func CheckCreate(paths map[string]string, r *specs.LinuxResources) (warnings []string, err error) {
	if r != nil && r.Memory != nil && (r.Memory.Kernel != nil || r.Memory.KernelTCP != nil) {
		warnings = append(warnings, "linux.resources.memory.kernel: ignored: kernel memory limits are deprecated and this kernel has none")
		m := *r.Memory
		m.Kernel, m.KernelTCP = nil, nil
		cp := *r
		cp.Memory = &m
		r = &cp
	}
	if err := CheckResources(paths, r); err != nil {
		if u, ok := err.(*UnsupportedError); ok {
			return warnings, &UnsupportedError{Field: "linux.resources." + u.Field, Reason: u.Reason}
		}
		return warnings, err
	}
	return warnings, nil
}

// need is one resource value and the files that can carry it: any of
// v1 in the v1 controller's directory, or any of v2 in the unified one
// (none: v1 only).
type need struct {
	field string
	ctrl  string
	v1    []string
	v2    []string
}

func checkResources(paths map[string]string, r *specs.LinuxResources, unified bool) error {
	if r == nil {
		return nil
	}
	if len(r.Unified) > 0 {
		if !unified {
			return &UnsupportedError{"unified", "needs a host with cgroup v2 only (this one has v1 controllers)"}
		}
		for _, k := range slices.Sorted(maps.Keys(r.Unified)) {
			if strings.ContainsRune(k, '/') {
				return &UnsupportedError{"unified." + k, "not a cgroup file name"}
			}
			if !exists(paths[""], k) {
				return &UnsupportedError{"unified." + k, fmt.Sprintf("%s does not exist on this host", filepath.Join(paths[""], k))}
			}
		}
	}
	needs, err := resourceNeeds(r)
	if err != nil {
		return err
	}
	for _, n := range needs {
		if err := n.check(paths, unified); err != nil {
			return err
		}
	}
	return nil
}

func (n need) check(paths map[string]string, unified bool) error {
	dir, files := paths[n.ctrl], n.v1
	if dir == "" && unified {
		dir, files = paths[""], n.v2
		if dir != "" && len(files) == 0 {
			return &UnsupportedError{n.field, "not available with cgroup v2"}
		}
	}
	if dir == "" {
		return &UnsupportedError{n.field, fmt.Sprintf("the container has no %s cgroup (is the controller mounted?)", n.ctrl)}
	}
	for _, f := range files {
		if exists(dir, f) {
			return nil
		}
	}
	return &UnsupportedError{n.field, fmt.Sprintf("not supported by this host: no %s in %s", strings.Join(files, " or "), dir)}
}

func exists(dir, file string) bool {
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

// resourceNeeds lists the files each value r sets is written to. Values
// the library treats as "not set" (zero shares, quota, weight...) need
// nothing.
func resourceNeeds(r *specs.LinuxResources) ([]need, error) {
	var out []need
	add := func(cond bool, field, ctrl string, v1, v2 []string) {
		if cond {
			out = append(out, need{field, ctrl, v1, v2})
		}
	}
	if m := r.Memory; m != nil {
		if m.Kernel != nil || m.KernelTCP != nil {
			field := "memory.kernel"
			if m.Kernel == nil {
				field = "memory.kernelTCP"
			}
			return nil, &UnsupportedError{field, "kernel memory limits are not supported (the kernel no longer has them)"}
		}
		if m.UseHierarchy != nil {
			return nil, &UnsupportedError{"memory.useHierarchy", "not supported: hierarchical accounting is always on"}
		}
		add(nonZero(m.Limit), "memory.limit", "memory", []string{"memory.limit_in_bytes"}, []string{"memory.max"})
		add(nonZero(m.Reservation), "memory.reservation", "memory", []string{"memory.soft_limit_in_bytes"}, []string{"memory.low"})
		add(nonZero(m.Swap), "memory.swap", "memory", []string{"memory.memsw.limit_in_bytes"}, []string{"memory.swap.max"})
		add(m.Swappiness != nil, "memory.swappiness", "memory", []string{"memory.swappiness"}, nil)
		add(m.DisableOOMKiller != nil && *m.DisableOOMKiller, "memory.disableOOMKiller", "memory", []string{"memory.oom_control"}, nil)
	}
	if c := r.CPU; c != nil {
		add(nonZero(c.Shares), "cpu.shares", "cpu", []string{"cpu.shares"}, []string{"cpu.weight"})
		add(nonZero(c.Quota), "cpu.quota", "cpu", []string{"cpu.cfs_quota_us"}, []string{"cpu.max"})
		add(nonZero(c.Period), "cpu.period", "cpu", []string{"cpu.cfs_period_us"}, []string{"cpu.max"})
		add(c.Burst != nil, "cpu.burst", "cpu", []string{"cpu.cfs_burst_us"}, []string{"cpu.max.burst"})
		add(nonZero(c.RealtimeRuntime), "cpu.realtimeRuntime", "cpu", []string{"cpu.rt_runtime_us"}, nil)
		add(nonZero(c.RealtimePeriod), "cpu.realtimePeriod", "cpu", []string{"cpu.rt_period_us"}, nil)
		add(c.Idle != nil, "cpu.idle", "cpu", []string{"cpu.idle"}, []string{"cpu.idle"})
		add(c.Cpus != "", "cpu.cpus", "cpuset", []string{"cpuset.cpus"}, []string{"cpuset.cpus"})
		add(c.Mems != "", "cpu.mems", "cpuset", []string{"cpuset.mems"}, []string{"cpuset.mems"})
	}
	if p := r.Pids; p != nil {
		add(p.Limit != nil, "pids.limit", "pids", []string{"pids.max"}, []string{"pids.max"})
	}
	if b := r.BlockIO; b != nil {
		add(nonZero(b.Weight), "blockIO.weight", "blkio", []string{"blkio.weight", "blkio.bfq.weight"}, []string{"io.weight", "io.bfq.weight"})
		add(nonZero(b.LeafWeight), "blockIO.leafWeight", "blkio", []string{"blkio.leaf_weight"}, nil)
		for i := range b.WeightDevice {
			add(true, fmt.Sprintf("blockIO.weightDevice[%d]", i), "blkio", []string{"blkio.weight_device", "blkio.bfq.weight_device"}, []string{"io.bfq.weight"})
		}
		for _, l := range []struct {
			field, v1 string
			list      []specs.LinuxThrottleDevice
		}{
			{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
			{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
			{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
			{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
		} {
			for i := range l.list {
				add(true, fmt.Sprintf("blockIO.%s[%d]", l.field, i), "blkio", []string{l.v1}, []string{"io.max"})
			}
		}
	}
	for i, h := range r.HugepageLimits {
		if strings.ContainsRune(h.Pagesize, '/') {
			return nil, &UnsupportedError{fmt.Sprintf("hugepageLimits[%d].pageSize", i), fmt.Sprintf("%q is not a page size", h.Pagesize)}
		}
		add(true, fmt.Sprintf("hugepageLimits[%d]", i), "hugetlb",
			[]string{"hugetlb." + h.Pagesize + ".limit_in_bytes"}, []string{"hugetlb." + h.Pagesize + ".max"})
	}
	if n := r.Network; n != nil {
		add(n.ClassID != nil, "network.classID", "net_cls", []string{"net_cls.classid"}, nil)
		add(len(n.Priorities) > 0, "network.priorities", "net_prio", []string{"net_prio.ifpriomap"}, nil)
	}
	add(len(r.Rdma) > 0, "rdma", "rdma", []string{"rdma.max"}, []string{"rdma.max"})
	return out, nil
}

func nonZero[T int64 | uint64 | uint16](p *T) bool { return p != nil && *p != 0 }
