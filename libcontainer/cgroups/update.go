package cgroups

import (
	"encoding/json"
	"fmt"

	"github.com/opencontainers/cgroups"
	libmanager "github.com/opencontainers/cgroups/manager"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update writes r, a container's complete set of limits, to its live
// cgroup, and, for a scope of the systemd driver, to the unit's
// properties. Unlike Set it leaves device rules alone: `update` has no
// way to express them, and rewriting them under a running container
// could briefly cut it off from devices it uses.
func (m *manager) Update(r *specs.LinuxResources) error {
	if m.err != nil {
		return m.err
	}
	res, err := ConvertResources(r)
	if err != nil {
		return err
	}
	res.SkipDevices = true
	lib := m.lib
	if prefix, name, ok := systemdScope(m.lib.GetPaths()); ok {
		// A scope's limits are unit properties as well, and systemd
		// writes those back to the files at every daemon-reload: they
		// have to change too, as runc's systemd driver does it.
		cg := &cgroups.Cgroup{Systemd: true, ScopePrefix: prefix, Name: name, Resources: res}
		if lib, err = libmanager.NewWithPaths(cg, m.lib.GetPaths()); err != nil {
			return fmt.Errorf("systemd cgroup manager: %w", err)
		}
	}
	// The library's own errors are runc's texts ("unable to set memory
	// limit to 1 (current usage: ...)"): kept unwrapped.
	if err := lib.Set(res); err != nil {
		return err
	}
	m.res = res
	return nil
}

// MergeResources returns old with every value that req sets replaced,
// which is what `update` does to a container's limits: whatever req
// leaves out stays as it was. Lists are merged by their keys (device
// numbers, page size, interface name). Neither argument is changed.
func MergeResources(old, req *specs.LinuxResources) (*specs.LinuxResources, error) {
	out := &specs.LinuxResources{}
	if old != nil {
		// A deep copy: the result must not share pointers with old,
		// which the caller keeps for a rollback.
		data, err := json.Marshal(old)
		if err != nil {
			return nil, fmt.Errorf("copy resources: %w", err)
		}
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("copy resources: %w", err)
		}
	}
	if req == nil {
		return out, nil
	}
	mergeMemory(out, req.Memory)
	mergeCPU(out, req.CPU)
	if req.Pids != nil && req.Pids.Limit != nil {
		out.Pids = &specs.LinuxPids{Limit: ptrTo(*req.Pids.Limit)}
	}
	mergeBlockIO(out, req.BlockIO)
	for _, h := range req.HugepageLimits {
		out.HugepageLimits = upsert(out.HugepageLimits, h, func(x specs.LinuxHugepageLimit) bool { return x.Pagesize == h.Pagesize })
	}
	if n := req.Network; n != nil {
		if out.Network == nil {
			out.Network = &specs.LinuxNetwork{}
		}
		if n.ClassID != nil {
			out.Network.ClassID = ptrTo(*n.ClassID)
		}
		for _, p := range n.Priorities {
			out.Network.Priorities = upsert(out.Network.Priorities, p, func(x specs.LinuxInterfacePriority) bool { return x.Name == p.Name })
		}
	}
	for dev, l := range req.Rdma {
		if out.Rdma == nil {
			out.Rdma = map[string]specs.LinuxRdma{}
		}
		out.Rdma[dev] = l
	}
	for k, v := range req.Unified {
		if out.Unified == nil {
			out.Unified = map[string]string{}
		}
		out.Unified[k] = v
	}
	return out, nil
}

func mergeMemory(out *specs.LinuxResources, m *specs.LinuxMemory) {
	if m == nil {
		return
	}
	if out.Memory == nil {
		out.Memory = &specs.LinuxMemory{}
	}
	o := out.Memory
	set(&o.Limit, m.Limit)
	set(&o.Reservation, m.Reservation)
	set(&o.Swap, m.Swap)
	set(&o.Kernel, m.Kernel)
	set(&o.KernelTCP, m.KernelTCP)
	set(&o.Swappiness, m.Swappiness)
	set(&o.DisableOOMKiller, m.DisableOOMKiller)
	set(&o.UseHierarchy, m.UseHierarchy)
	set(&o.CheckBeforeUpdate, m.CheckBeforeUpdate)
	// As runc: "no memory limit" without a word on swap lifts the swap
	// limit too, since on v1 memory+swap may not be below memory.
	if m.Limit != nil && *m.Limit == -1 && m.Swap == nil {
		o.Swap = ptrTo(int64(-1))
	}
}

func mergeCPU(out *specs.LinuxResources, c *specs.LinuxCPU) {
	if c == nil {
		return
	}
	if out.CPU == nil {
		out.CPU = &specs.LinuxCPU{}
	}
	o := out.CPU
	set(&o.Shares, c.Shares)
	set(&o.Quota, c.Quota)
	set(&o.Burst, c.Burst)
	set(&o.Period, c.Period)
	set(&o.RealtimeRuntime, c.RealtimeRuntime)
	set(&o.RealtimePeriod, c.RealtimePeriod)
	set(&o.Idle, c.Idle)
	if c.Cpus != "" {
		o.Cpus = c.Cpus
	}
	if c.Mems != "" {
		o.Mems = c.Mems
	}
}

func mergeBlockIO(out *specs.LinuxResources, b *specs.LinuxBlockIO) {
	if b == nil {
		return
	}
	if out.BlockIO == nil {
		out.BlockIO = &specs.LinuxBlockIO{}
	}
	o := out.BlockIO
	set(&o.Weight, b.Weight)
	set(&o.LeafWeight, b.LeafWeight)
	for _, w := range b.WeightDevice {
		o.WeightDevice = upsert(o.WeightDevice, w, func(x specs.LinuxWeightDevice) bool {
			return x.Major == w.Major && x.Minor == w.Minor
		})
	}
	for _, l := range []struct{ dst, src *[]specs.LinuxThrottleDevice }{
		{&o.ThrottleReadBpsDevice, &b.ThrottleReadBpsDevice},
		{&o.ThrottleWriteBpsDevice, &b.ThrottleWriteBpsDevice},
		{&o.ThrottleReadIOPSDevice, &b.ThrottleReadIOPSDevice},
		{&o.ThrottleWriteIOPSDevice, &b.ThrottleWriteIOPSDevice},
	} {
		for _, t := range *l.src {
			*l.dst = upsert(*l.dst, t, func(x specs.LinuxThrottleDevice) bool {
				return x.Major == t.Major && x.Minor == t.Minor
			})
		}
	}
}

// set copies *src into a fresh *dst when src is given.
func set[T any](dst **T, src *T) {
	if src != nil {
		*dst = ptrTo(*src)
	}
}

func ptrTo[T any](v T) *T { return &v }

// upsert replaces the element that same matches with v, or appends v.
func upsert[T any](list []T, v T, same func(T) bool) []T {
	for i := range list {
		if same(list[i]) {
			list[i] = v
			return list
		}
	}
	return append(list, v)
}
