package libcontainer

import (
	"time"

	libcg "github.com/opencontainers/cgroups"

	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// Event is one line of `skiff events`: {"type":"stats"|"oom","id":...,
// "data":...}. The JSON below is runc's, field for field, since tools
// (containerd's shims among them) decode it.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// Stats is the data of a "stats" event.
type Stats struct {
	CPU     CPU                `json:"cpu"`
	CPUSet  CPUSet             `json:"cpuset"`
	Memory  Memory             `json:"memory"`
	Pids    Pids               `json:"pids"`
	Blkio   Blkio              `json:"blkio"`
	Hugetlb map[string]Hugetlb `json:"hugetlb"`
	// skiff has no Intel RDT support: always {}.
	IntelRdt struct{} `json:"intel_rdt"`
	// runc fills this only for network interfaces it made itself, which
	// no OCI bundle asks for: always null, as in runc.
	NetworkInterfaces []any `json:"network_interfaces"`
}

type CPU struct {
	Usage      CPUUsage        `json:"usage"`
	Throttling Throttling      `json:"throttling"`
	PSI        *libcg.PSIStats `json:"psi,omitempty"`
}

// CPUUsage is in nanoseconds.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CPUSet has the library's fields (so that it converts directly) with
// runc's JSON names.
type CPUSet struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage"`
	Swap      MemoryEntry       `json:"swap"`
	Kernel    MemoryEntry       `json:"kernel"`
	KernelTCP MemoryEntry       `json:"kernelTCP"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *libcg.PSIStats   `json:"psi,omitempty"`
	// EventCount is v2's memory.events; v1 has nothing like it.
	EventCount *MemoryEvents `json:"event_count,omitempty"`
}

// MemoryEvents counts how often the cgroup hit each memory boundary.
type MemoryEvents struct {
	Low          uint64 `json:"low,omitempty"`
	High         uint64 `json:"high,omitempty"`
	Max          uint64 `json:"max,omitempty"`
	OOM          uint64 `json:"oom,omitempty"`
	OOMKill      uint64 `json:"oom_kill,omitempty"`
	OOMGroupKill uint64 `json:"oom_group_kill,omitempty"`
}

type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry    `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry    `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry    `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry    `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry    `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry    `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry    `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry    `json:"sectorsRecursive,omitempty"`
	PSI                     *libcg.PSIStats `json:"psi,omitempty"`
}

type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// ContainerStats reads the container's cgroup counters.
func ContainerStats(st *state.State) (*Stats, error) {
	s, err := cgroups.Load(st.CgroupPaths).Stats()
	if err != nil {
		return nil, err
	}
	return convertStats(s), nil
}

// WatchEvents emits a "stats" event every interval (the first after one
// interval, as runc does) and an "oom" event for each OOM in the
// container, until the container's cgroup goes away. A failure to read
// stats is logged and the watch goes on.
func WatchEvents(st *state.State, interval time.Duration, emit func(*Event)) error {
	cg := cgroups.Load(st.CgroupPaths)
	oom, err := cg.NotifyOOM()
	if err != nil {
		return err
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case _, ok := <-oom:
			if !ok {
				return nil
			}
			emit(&Event{Type: "oom", ID: st.ID})
		case <-tick.C:
			s, err := cg.Stats()
			if err != nil {
				logs.Errorf("%s", err)
				continue
			}
			emit(&Event{Type: "stats", ID: st.ID, Data: convertStats(s)})
		}
	}
}

func convertStats(cs *cgroups.Stats) *Stats {
	cg := &cs.Stats
	var s Stats
	s.Pids = Pids{Current: cg.PidsStats.Current, Limit: cg.PidsStats.Limit}

	u := cg.CpuStats.CpuUsage
	s.CPU.Usage = CPUUsage{
		Total: u.TotalUsage, Percpu: u.PercpuUsage,
		PercpuKernel: u.PercpuUsageInKernelmode, PercpuUser: u.PercpuUsageInUsermode,
		Kernel: u.UsageInKernelmode, User: u.UsageInUsermode,
	}
	t := cg.CpuStats.ThrottlingData
	s.CPU.Throttling = Throttling{Periods: t.Periods, ThrottledPeriods: t.ThrottledPeriods, ThrottledTime: t.ThrottledTime}
	s.CPU.PSI = cg.CpuStats.PSI
	s.CPUSet = CPUSet(cg.CPUSetStats)

	m := cg.MemoryStats
	s.Memory = Memory{
		Cache:     m.Cache,
		Usage:     memoryEntry(m.Usage),
		Swap:      memoryEntry(m.SwapUsage),
		Kernel:    memoryEntry(m.KernelUsage),
		KernelTCP: memoryEntry(m.KernelTCPUsage),
		Raw:       m.Stats,
		PSI:       m.PSI,
	}
	if ev := cs.MemoryEvents; ev != nil {
		s.Memory.EventCount = &MemoryEvents{
			Low: ev["low"], High: ev["high"], Max: ev["max"],
			OOM: ev["oom"], OOMKill: ev["oom_kill"], OOMGroupKill: ev["oom_group_kill"],
		}
	}

	b := cg.BlkioStats
	s.Blkio = Blkio{
		IoServiceBytesRecursive: blkioEntries(b.IoServiceBytesRecursive),
		IoServicedRecursive:     blkioEntries(b.IoServicedRecursive),
		IoQueuedRecursive:       blkioEntries(b.IoQueuedRecursive),
		IoServiceTimeRecursive:  blkioEntries(b.IoServiceTimeRecursive),
		IoWaitTimeRecursive:     blkioEntries(b.IoWaitTimeRecursive),
		IoMergedRecursive:       blkioEntries(b.IoMergedRecursive),
		IoTimeRecursive:         blkioEntries(b.IoTimeRecursive),
		SectorsRecursive:        blkioEntries(b.SectorsRecursive),
		PSI:                     b.PSI,
	}

	s.Hugetlb = make(map[string]Hugetlb, len(cg.HugetlbStats))
	for size, h := range cg.HugetlbStats {
		s.Hugetlb[size] = Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return &s
}

func memoryEntry(d libcg.MemoryData) MemoryEntry {
	return MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}

func blkioEntries(in []libcg.BlkioStatEntry) []BlkioEntry {
	var out []BlkioEntry
	for _, e := range in {
		out = append(out, BlkioEntry(e))
	}
	return out
}
