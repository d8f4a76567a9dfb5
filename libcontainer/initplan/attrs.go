package initplan

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// IOPriority sets the I/O priority (ioprio_set, IOPRIO_WHO_PROCESS).
type IOPriority struct{ Value uint32 }

// SchedAttr sets the scheduling policy (sched_setattr) from a struct
// sched_attr built here.
type SchedAttr struct{ Attr []byte }

// Personality sets the execution domain (personality(2)).
type Personality struct{ Persona uint64 }

// CPUAffinity sets the CPU mask (sched_setaffinity).
type CPUAffinity struct{ Mask []byte }

// MemoryPolicy sets the NUMA policy (set_mempolicy).
type MemoryPolicy struct {
	Mode    uint32
	MaxNode uint64
	Mask    []byte
}

func (s IOPriority) encode(e *encoder)  { e.record(recIOPriority, func() { e.u32(s.Value) }) }
func (s SchedAttr) encode(e *encoder)   { e.record(recSchedAttr, func() { e.blob(s.Attr) }) }
func (s Personality) encode(e *encoder) { e.record(recPersonality, func() { e.u64(s.Persona) }) }
func (s CPUAffinity) encode(e *encoder) { e.record(recCPUAffinity, func() { e.blob(s.Mask) }) }
func (s MemoryPolicy) encode(e *encoder) {
	e.record(recMemoryPolicy, func() { e.u32(s.Mode); e.u64(s.MaxNode); e.blob(s.Mask) })
}
func (IOPriority) String() string   { return "set the I/O priority" }
func (SchedAttr) String() string    { return "set the scheduler" }
func (Personality) String() string  { return "set the personality" }
func (CPUAffinity) String() string  { return "set the CPU affinity" }
func (MemoryPolicy) String() string { return "set the memory policy" }

var ioClasses = map[specs.IOPriorityClass]uint32{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
	specs.SchedFlagUtilClampMin: 0x20, specs.SchedFlagUtilClampMax: 0x40,
}

var mempolicyModes = map[specs.MemoryPolicyModeType]uint32{
	specs.MpolDefault: 0, specs.MpolPreferred: 1, specs.MpolBind: 2, specs.MpolInterleave: 3,
	specs.MpolLocal: 4, specs.MpolPreferredMany: 5, specs.MpolWeightedInterleave: 6,
}

var mempolicyFlags = map[specs.MemoryPolicyFlagType]uint32{
	specs.MpolFNumaBalancing: 1 << 13, specs.MpolFRelativeNodes: 1 << 14, specs.MpolFStaticNodes: 1 << 15,
}

// processAttributes turns process.ioPriority, process.scheduler,
// linux.personality and linux.memoryPolicy into steps. Errors name the
// config.json field.
func processAttributes(p *specs.Process, l *specs.Linux) ([]Step, error) {
	var steps []Step
	if p != nil && p.IOPriority != nil {
		class, ok := ioClasses[p.IOPriority.Class]
		if !ok {
			return nil, fmt.Errorf("process.ioPriority.class: unknown class %q", p.IOPriority.Class)
		}
		if p.IOPriority.Priority < 0 || p.IOPriority.Priority > 7 {
			return nil, fmt.Errorf("process.ioPriority.priority: %d is out of range [0, 7]", p.IOPriority.Priority)
		}
		steps = append(steps, IOPriority{Value: class<<13 | uint32(p.IOPriority.Priority)})
	}
	if p != nil && p.Scheduler != nil {
		attr, err := schedAttr(p.Scheduler)
		if err != nil {
			return nil, err
		}
		steps = append(steps, SchedAttr{Attr: attr})
	}
	if l != nil && l.Personality != nil {
		var persona uint64
		switch l.Personality.Domain {
		case specs.PerLinux:
			persona = 0x0000
		case specs.PerLinux32:
			persona = 0x0008
		default:
			return nil, fmt.Errorf("linux.personality.domain: unknown domain %q", l.Personality.Domain)
		}
		if len(l.Personality.Flags) > 0 {
			return nil, fmt.Errorf("linux.personality.flags: no flags are defined, got %q", l.Personality.Flags)
		}
		steps = append(steps, Personality{Persona: persona})
	}
	if l != nil && l.MemoryPolicy != nil {
		mp, err := memoryPolicy(l.MemoryPolicy)
		if err != nil {
			return nil, err
		}
		steps = append(steps, mp)
	}
	return steps, nil
}

func schedAttr(s *specs.Scheduler) ([]byte, error) {
	policy, ok := schedPolicies[s.Policy]
	if !ok {
		return nil, fmt.Errorf("process.scheduler.policy: unknown policy %q", s.Policy)
	}
	var flags uint64
	for i, f := range s.Flags {
		v, ok := schedFlags[f]
		if !ok {
			return nil, fmt.Errorf("process.scheduler.flags[%d]: unknown flag %q", i, f)
		}
		flags |= v
	}
	if s.Nice < -20 || s.Nice > 19 {
		return nil, fmt.Errorf("process.scheduler.nice: %d is out of range [-20, 19]", s.Nice)
	}
	if s.Priority < 0 {
		return nil, fmt.Errorf("process.scheduler.priority: %d is negative", s.Priority)
	}
	// struct sched_attr, SCHED_ATTR_SIZE_VER1 (56 bytes).
	b := make([]byte, 0, 56)
	b = binary.NativeEndian.AppendUint32(b, 56)
	b = binary.NativeEndian.AppendUint32(b, policy)
	b = binary.NativeEndian.AppendUint64(b, flags)
	b = binary.NativeEndian.AppendUint32(b, uint32(s.Nice))
	b = binary.NativeEndian.AppendUint32(b, uint32(s.Priority))
	b = binary.NativeEndian.AppendUint64(b, s.Runtime)
	b = binary.NativeEndian.AppendUint64(b, s.Deadline)
	b = binary.NativeEndian.AppendUint64(b, s.Period)
	b = binary.NativeEndian.AppendUint32(b, 0) // util_min
	b = binary.NativeEndian.AppendUint32(b, 0) // util_max
	return b, nil
}

func memoryPolicy(m *specs.LinuxMemoryPolicy) (Step, error) {
	mode, ok := mempolicyModes[m.Mode]
	if !ok {
		return nil, fmt.Errorf("linux.memoryPolicy.mode: unknown mode %q", m.Mode)
	}
	for i, f := range m.Flags {
		v, ok := mempolicyFlags[f]
		if !ok {
			return nil, fmt.Errorf("linux.memoryPolicy.flags[%d]: unknown flag %q", i, f)
		}
		mode |= v
	}
	mask, bits, err := parseList(m.Nodes)
	if err != nil {
		return nil, fmt.Errorf("linux.memoryPolicy.nodes: %w", err)
	}
	return MemoryPolicy{Mode: mode, MaxNode: uint64(bits) + 1, Mask: mask}, nil
}

// parseList parses "0-3,5" into a little-endian bit mask of 64-bit
// words, as the kernel's cpu and node masks are, and its size in bits.
func parseList(s string) ([]byte, int, error) {
	const maxBits = 1 << 16
	var set []int
	top := 0
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, 0, fmt.Errorf("bad list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, 0, fmt.Errorf("bad list %q", s)
			}
		}
		if b >= maxBits {
			return nil, 0, fmt.Errorf("%d is too large", b)
		}
		for i := a; i <= b; i++ {
			set = append(set, i)
		}
		top = max(top, b+1)
	}
	if len(set) == 0 {
		return nil, 0, fmt.Errorf("empty list %q", s)
	}
	words := (top + 63) / 64
	mask := make([]byte, words*8)
	for _, i := range set {
		mask[i/8] |= 1 << (i % 8)
	}
	return mask, words * 64, nil
}

// cpuAffinity converts a CPU list of execCPUAffinity.
func cpuAffinity(field, list string) (Step, error) {
	mask, _, err := parseList(list)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return CPUAffinity{Mask: mask}, nil
}
