package seccomp

import (
	"fmt"
	"slices"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The ENOSYS stub.
//
// A deny-by-default profile (docker's: SCMP_ACT_ERRNO with EPERM) was
// written against some list of syscalls. When the kernel and libc in a
// container are newer than the profile, libc tries the new syscall first
// (clone3, faccessat2, openat2, close_range, ...) and falls back to the
// old one only if it gets ENOSYS, which is what an older kernel would
// say. EPERM means "you may not", so libc gives up and the program
// fails. So we make the filter answer ENOSYS for syscalls that are newer
// than anything the profile mentions, and keep the default action for
// the rest.
//
// "Newer than the profile" is approximated per architecture as "a number
// above the highest syscall number the profile names (among the names
// libseccomp knows)": syscall tables only grow at the end. The stub is a
// short cBPF prologue placed before libseccomp's program:
//
//	ld  [arch]
//	jeq #AUDIT_ARCH_A, 0, next-arch
//	ld  [nr]
//	jgt #max_A, enosys, main
//	next-arch: ...
//	enosys: ret #SECCOMP_RET_ERRNO|ENOSYS
//	main:   libseccomp's program, which starts by loading arch itself
//
// Architectures sharing an AUDIT_ARCH (x86_64 and x32, told apart by bit
// 30 of the number) get one range check per ABI; numbers outside every
// named range (x32 calls when only x86_64 is in the profile, ARM's
// private calls) go to libseccomp's program unchanged. On s390 and s390x
// a syscall number the kernel does not know reaches the filter as 0, so 0
// also gets ENOSYS there.
//
// Only for a denying default (kill, trap, errno other than ENOSYS): with
// an allowing default (allow, log) new syscalls are allowed anyway, and a
// tracer (trace) decides for itself.

func needsStub(p *profile) bool {
	switch p.defKind {
	case kindKill:
		return true
	case kindErrno:
		return p.defAct.GetReturnCode() != int16(unix.ENOSYS)
	}
	return false
}

// abiRange is one ABI's syscall number range within an AUDIT_ARCH and the
// highest number the profile names in it.
type abiRange struct {
	lo, hi, max uint32
}

type archGroup struct {
	audit  uint32
	s390   bool
	ranges []abiRange
}

// stubGroups finds, for every architecture of the filter, the highest
// syscall number the profile names; architectures for which the profile
// names nothing known are left to libseccomp's program.
func stubGroups(p *profile) []archGroup {
	var groups []archGroup
	for _, a := range p.archs {
		var max uint32
		found := false
		for _, r := range p.rules {
			for _, name := range r.names {
				nr, err := libseccomp.GetSyscallFromNameByArch(name, a.scmp)
				// Negative numbers are libseccomp's pseudo syscalls (a
				// name this ABI does not have, or only multiplexes).
				if err != nil || nr < 0 {
					continue
				}
				if n := uint32(nr); n >= a.nrLo && n <= a.nrHi && (!found || n > max) {
					max, found = n, true
				}
			}
		}
		if !found {
			continue
		}
		gi := slices.IndexFunc(groups, func(g archGroup) bool { return g.audit == a.audit })
		if gi < 0 {
			groups = append(groups, archGroup{
				audit: a.audit,
				s390:  a.scmp == libseccomp.ArchS390 || a.scmp == libseccomp.ArchS390X,
			})
			gi = len(groups) - 1
		}
		groups[gi].ranges = append(groups[gi].ranges, abiRange{a.nrLo, a.nrHi, max})
	}
	for i := range groups {
		slices.SortFunc(groups[i].ranges, func(x, y abiRange) int { return int(int64(x.lo) - int64(y.lo)) })
	}
	return groups
}

// seccomp_data offsets.
const (
	offNr   = 0
	offArch = 4
)

func enosysStub(groups []archGroup) ([]unix.SockFilter, error) {
	var a asm
	a.op(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch)
	for gi, g := range groups {
		a.label(fmt.Sprintf("arch%d", gi))
		next := "main"
		if gi+1 < len(groups) {
			next = fmt.Sprintf("arch%d", gi+1)
		}
		a.jump(unix.BPF_JEQ, g.audit, "", next)
		a.op(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr)
		if g.s390 {
			a.jump(unix.BPF_JEQ, 0, "enosys", "")
		}
		for ri, r := range g.ranges {
			here := fmt.Sprintf("arch%d.%d", gi, ri)
			after := "main"
			if ri+1 < len(g.ranges) {
				after = fmt.Sprintf("arch%d.%d", gi, ri+1)
			}
			a.label(here)
			if ri == 0 && r.lo > 0 {
				a.jump(unix.BPF_JGE, r.lo, "", "main")
			}
			if r.hi != ^uint32(0) {
				a.jump(unix.BPF_JGT, r.hi, after, "")
			}
			a.jump(unix.BPF_JGT, r.max, "enosys", "main")
		}
	}
	a.label("enosys")
	a.op(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS))
	a.label("main")
	return a.assemble()
}

// asm is a tiny cBPF assembler with forward labels; conditional jumps
// in cBPF are relative and at most 255 instructions long, which a stub of
// a few instructions per architecture never needs.
type asm struct {
	ins    []pendingInsn
	labels map[string]int
}

type pendingInsn struct {
	code   uint16
	k      uint32
	jt, jf string // label, or "" for the next instruction
}

func (a *asm) op(code uint16, k uint32) {
	a.ins = append(a.ins, pendingInsn{code: code, k: k})
}

func (a *asm) jump(cond uint16, k uint32, jt, jf string) {
	a.ins = append(a.ins, pendingInsn{code: unix.BPF_JMP | cond | unix.BPF_K, k: k, jt: jt, jf: jf})
}

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.ins)
}

func (a *asm) assemble() ([]unix.SockFilter, error) {
	out := make([]unix.SockFilter, len(a.ins))
	for i, in := range a.ins {
		out[i] = unix.SockFilter{Code: in.code, K: in.k}
		for _, j := range []struct {
			label string
			dst   *uint8
		}{{in.jt, &out[i].Jt}, {in.jf, &out[i].Jf}} {
			if j.label == "" {
				continue
			}
			target, ok := a.labels[j.label]
			off := target - (i + 1)
			if !ok || off < 0 || off > 255 {
				return nil, fmt.Errorf("seccomp: ENOSYS stub: bad jump to %q from %d", j.label, i)
			}
			*j.dst = uint8(off)
		}
	}
	return out, nil
}
