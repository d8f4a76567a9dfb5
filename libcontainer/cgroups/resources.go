package cgroups

import (
	"fmt"

	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultDeviceRules are appended after the spec's own rules, as runc
// does, so that a spec starting with "deny all" still gets the devices
// every container needs (and mknod of any node, which is harmless when
// access is denied).
var defaultDeviceRules = []devices.Rule{
	{Type: devices.CharDevice, Major: devices.Wildcard, Minor: devices.Wildcard, Permissions: "m", Allow: true},
	{Type: devices.BlockDevice, Major: devices.Wildcard, Minor: devices.Wildcard, Permissions: "m", Allow: true},
	{Type: devices.CharDevice, Major: 1, Minor: 3, Permissions: "rwm", Allow: true},                  // /dev/null
	{Type: devices.CharDevice, Major: 1, Minor: 8, Permissions: "rwm", Allow: true},                  // /dev/random
	{Type: devices.CharDevice, Major: 1, Minor: 7, Permissions: "rwm", Allow: true},                  // /dev/full
	{Type: devices.CharDevice, Major: 5, Minor: 0, Permissions: "rwm", Allow: true},                  // /dev/tty
	{Type: devices.CharDevice, Major: 1, Minor: 5, Permissions: "rwm", Allow: true},                  // /dev/zero
	{Type: devices.CharDevice, Major: 1, Minor: 9, Permissions: "rwm", Allow: true},                  // /dev/urandom
	{Type: devices.CharDevice, Major: 136, Minor: devices.Wildcard, Permissions: "rwm", Allow: true}, // /dev/pts/*
	{Type: devices.CharDevice, Major: 5, Minor: 2, Permissions: "rwm", Allow: true},                  // /dev/ptmx
	{Type: devices.CharDevice, Major: 10, Minor: 200, Permissions: "rwm", Allow: true},               // /dev/net/tun
}

// ConvertResources turns config.json's linux.resources (nil for none)
// into the cgroup library's Resources, device rules included.
func ConvertResources(r *specs.LinuxResources) (*cgroups.Resources, error) {
	res := &cgroups.Resources{}
	if r != nil {
		rules, err := convertDeviceRules(r.Devices)
		if err != nil {
			return nil, err
		}
		res.Devices = rules
		convertMemory(r.Memory, res)
		convertCPU(r.CPU, res)
		if r.Pids != nil && r.Pids.Limit != nil {
			// Before runtime-spec 1.2.1 made the limit a pointer, 0 meant
			// "not set"; runtimes read 0 and below as "no limit".
			limit := *r.Pids.Limit
			if limit <= 0 {
				limit = -1
			}
			res.PidsLimit = &limit
		}
		convertBlockIO(r.BlockIO, res)
		for _, h := range r.HugepageLimits {
			res.HugetlbLimit = append(res.HugetlbLimit, &cgroups.HugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
		}
		if n := r.Network; n != nil {
			if n.ClassID != nil {
				res.NetClsClassid = *n.ClassID
			}
			for _, p := range n.Priorities {
				res.NetPrioIfpriomap = append(res.NetPrioIfpriomap, &cgroups.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
			}
		}
		if len(r.Rdma) > 0 {
			res.Rdma = make(map[string]cgroups.LinuxRdma, len(r.Rdma))
			for dev, l := range r.Rdma {
				res.Rdma[dev] = cgroups.LinuxRdma{HcaHandles: l.HcaHandles, HcaObjects: l.HcaObjects}
			}
		}
		res.Unified = r.Unified
	}
	for _, rule := range defaultDeviceRules {
		res.Devices = append(res.Devices, &rule)
	}
	return res, nil
}

func convertDeviceRules(in []specs.LinuxDeviceCgroup) ([]*devices.Rule, error) {
	var out []*devices.Rule
	for i, d := range in {
		f := fmt.Sprintf("linux.resources.devices[%d]", i)
		rule := &devices.Rule{
			Type:        devices.WildcardDevice,
			Major:       devices.Wildcard,
			Minor:       devices.Wildcard,
			Permissions: devices.Permissions(d.Access),
			Allow:       d.Allow,
		}
		switch d.Type {
		case "", "a":
		case "c":
			rule.Type = devices.CharDevice
		case "b":
			rule.Type = devices.BlockDevice
		default:
			return nil, fmt.Errorf("%s.type: unknown device type %q", f, d.Type)
		}
		if d.Major != nil {
			rule.Major = *d.Major
		}
		if d.Minor != nil {
			rule.Minor = *d.Minor
		}
		if d.Access == "" || !rule.Permissions.IsValid() {
			return nil, fmt.Errorf("%s.access: %q is not a combination of r, w and m", f, d.Access)
		}
		out = append(out, rule)
	}
	return out, nil
}

func convertMemory(m *specs.LinuxMemory, res *cgroups.Resources) {
	if m == nil {
		return
	}
	if m.Limit != nil {
		res.Memory = *m.Limit
	}
	if m.Reservation != nil {
		res.MemoryReservation = *m.Reservation
	}
	if m.Swap != nil {
		res.MemorySwap = *m.Swap
	}
	res.MemorySwappiness = m.Swappiness
	if m.DisableOOMKiller != nil {
		res.OomKillDisable = *m.DisableOOMKiller
	}
	if m.CheckBeforeUpdate != nil {
		res.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
	}
}

func convertCPU(c *specs.LinuxCPU, res *cgroups.Resources) {
	if c == nil {
		return
	}
	if c.Shares != nil {
		res.CpuShares = *c.Shares
		// The v2 drivers read only the weight: shares are v1's unit.
		res.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*c.Shares)
	}
	if c.Quota != nil {
		res.CpuQuota = *c.Quota
	}
	res.CpuBurst = c.Burst
	if c.Period != nil {
		res.CpuPeriod = *c.Period
	}
	if c.RealtimeRuntime != nil {
		res.CpuRtRuntime = *c.RealtimeRuntime
	}
	if c.RealtimePeriod != nil {
		res.CpuRtPeriod = *c.RealtimePeriod
	}
	res.CpusetCpus = c.Cpus
	res.CpusetMems = c.Mems
	res.CPUIdle = c.Idle
}

func convertBlockIO(b *specs.LinuxBlockIO, res *cgroups.Resources) {
	if b == nil {
		return
	}
	if b.Weight != nil {
		res.BlkioWeight = *b.Weight
	}
	if b.LeafWeight != nil {
		res.BlkioLeafWeight = *b.LeafWeight
	}
	for _, wd := range b.WeightDevice {
		var w, lw uint16
		if wd.Weight != nil {
			w = *wd.Weight
		}
		if wd.LeafWeight != nil {
			lw = *wd.LeafWeight
		}
		res.BlkioWeightDevice = append(res.BlkioWeightDevice, cgroups.NewWeightDevice(wd.Major, wd.Minor, w, lw))
	}
	res.BlkioThrottleReadBpsDevice = throttle(b.ThrottleReadBpsDevice)
	res.BlkioThrottleWriteBpsDevice = throttle(b.ThrottleWriteBpsDevice)
	res.BlkioThrottleReadIOPSDevice = throttle(b.ThrottleReadIOPSDevice)
	res.BlkioThrottleWriteIOPSDevice = throttle(b.ThrottleWriteIOPSDevice)
}

func throttle(in []specs.LinuxThrottleDevice) []*cgroups.ThrottleDevice {
	var out []*cgroups.ThrottleDevice
	for _, t := range in {
		out = append(out, cgroups.NewThrottleDevice(t.Major, t.Minor, t.Rate))
	}
	return out
}
