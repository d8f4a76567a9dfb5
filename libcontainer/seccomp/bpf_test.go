package seccomp

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// These tests run the compiled programs in a small cBPF interpreter, so
// that architectures this machine cannot execute (x32, i386, ARM) are
// checked too.

func nativeLittleEndian() bool {
	return binary.NativeEndian.Uint16([]byte{1, 0}) == 1
}

type seccompData struct {
	nr   int32
	arch uint32
	args [6]uint64
}

func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.NativeEndian.PutUint32(b[0:], uint32(d.nr))
	binary.NativeEndian.PutUint32(b[4:], d.arch)
	for i, a := range d.args {
		binary.NativeEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// runBPF interprets the classic BPF subset seccomp filters use.
func runBPF(prog []unix.SockFilter, d seccompData) (uint32, error) {
	data := d.bytes()
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		src := in.K
		if in.Code&0x08 != 0 { // BPF_X
			src = x
		}
		switch cls := in.Code & 0x07; cls {
		case unix.BPF_LD, unix.BPF_LDX:
			var v uint32
			switch in.Code & 0xe0 {
			case unix.BPF_ABS:
				if in.Code&0x18 != unix.BPF_W || in.K+4 > uint32(len(data)) || in.K%4 != 0 {
					return 0, fmt.Errorf("pc %d: bad load %#x k=%d", pc, in.Code, in.K)
				}
				v = binary.NativeEndian.Uint32(data[in.K:])
			case unix.BPF_IMM:
				v = in.K
			case unix.BPF_MEM:
				v = mem[in.K]
			default:
				return 0, fmt.Errorf("pc %d: unsupported load %#x", pc, in.Code)
			}
			if cls == unix.BPF_LD {
				a = v
			} else {
				x = v
			}
		case unix.BPF_ST:
			mem[in.K] = a
		case unix.BPF_STX:
			mem[in.K] = x
		case unix.BPF_ALU:
			switch in.Code & 0xf0 {
			case unix.BPF_ADD:
				a += src
			case unix.BPF_SUB:
				a -= src
			case unix.BPF_AND:
				a &= src
			case unix.BPF_OR:
				a |= src
			case unix.BPF_LSH:
				a <<= src
			case unix.BPF_RSH:
				a >>= src
			default:
				return 0, fmt.Errorf("pc %d: unsupported alu %#x", pc, in.Code)
			}
		case unix.BPF_JMP:
			var cond bool
			switch in.Code & 0xf0 {
			case unix.BPF_JA:
				pc += int(in.K)
				continue
			case unix.BPF_JEQ:
				cond = a == src
			case unix.BPF_JGT:
				cond = a > src
			case unix.BPF_JGE:
				cond = a >= src
			case unix.BPF_JSET:
				cond = a&src != 0
			default:
				return 0, fmt.Errorf("pc %d: unsupported jump %#x", pc, in.Code)
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET:
			if in.Code&0x18 == unix.BPF_A {
				return a, nil
			}
			return in.K, nil
		case unix.BPF_MISC:
			if in.Code&0xf8 == unix.BPF_TAX {
				x = a
			} else {
				a = x
			}
		}
	}
	return 0, fmt.Errorf("fell off the end of the program")
}

const (
	retAllow  = 0x7fff0000
	retKill   = 0x00000000 // SECCOMP_RET_KILL_THREAD: libseccomp's bad-arch action
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
)

func nrOf(t *testing.T, name string, arch libseccomp.ScmpArch) int32 {
	t.Helper()
	nr, err := libseccomp.GetSyscallFromNameByArch(name, arch)
	if err != nil || nr < 0 {
		t.Fatalf("%s on %v: %d %v", name, arch, nr, err)
	}
	return int32(nr)
}

type bpfCase struct {
	what string
	d    seccompData
	want uint32
}

func checkProgram(t *testing.T, prog *Program, cases []bpfCase) {
	t.Helper()
	insns, err := decodeInsns(prog.Filter)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		got, err := runBPF(insns, c.d)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if got != c.want {
			t.Errorf("%s (arch %#x nr %#x): got %#x, want %#x", c.what, c.d.arch, c.d.nr, got, c.want)
		}
	}
}

func TestStubDockerProfileAllABIs(t *testing.T) {
	if !isNative(libseccomp.ArchAMD64) {
		t.Skip("x86_64 host only")
	}
	prog, err := Compile(loadDockerProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	amd64, x86, x32 := uint32(unix.AUDIT_ARCH_X86_64), uint32(unix.AUDIT_ARCH_I386), uint32(unix.AUDIT_ARCH_X86_64)
	const bit = x32Bit
	checkProgram(t, prog, []bpfCase{
		{"x86_64 getcwd", seccompData{nr: nrOf(t, "getcwd", libseccomp.ArchAMD64), arch: amd64}, retAllow},
		{"x86_64 clone3 (docker: ENOSYS)", seccompData{nr: nrOf(t, "clone3", libseccomp.ArchAMD64), arch: amd64}, retENOSYS},
		{"x86_64 kexec_load", seccompData{nr: nrOf(t, "kexec_load", libseccomp.ArchAMD64), arch: amd64}, retEPERM},
		{"x86_64 new", seccompData{nr: 999, arch: amd64}, retENOSYS},
		// -1 has bit 30 set, so it counts as x32, beyond x32's bound.
		{"x86_64 -1", seccompData{nr: -1, arch: amd64}, retENOSYS},
		{"i386 getcwd", seccompData{nr: nrOf(t, "getcwd", libseccomp.ArchX86), arch: x86}, retAllow},
		{"i386 kexec_load", seccompData{nr: nrOf(t, "kexec_load", libseccomp.ArchX86), arch: x86}, retEPERM},
		{"i386 new", seccompData{nr: 999, arch: x86}, retENOSYS},
		{"x32 getcwd", seccompData{nr: nrOf(t, "getcwd", libseccomp.ArchX32), arch: x32}, retAllow},
		{"x32 kexec_load", seccompData{nr: nrOf(t, "kexec_load", libseccomp.ArchX32), arch: x32}, retEPERM},
		{"x32 new", seccompData{nr: bit | 999, arch: x32}, retENOSYS},
		{"aarch64 (not in the filter)", seccompData{nr: 17, arch: unix.AUDIT_ARCH_AARCH64}, retKill},
		{"personality allowed arg", seccompData{nr: nrOf(t, "personality", libseccomp.ArchAMD64), arch: amd64, args: [6]uint64{0xffffffff}}, retAllow},
		{"personality other arg", seccompData{nr: nrOf(t, "personality", libseccomp.ArchAMD64), arch: amd64, args: [6]uint64{1}}, retEPERM},
	})
}

func TestStubNativeOnlyLeavesX32Alone(t *testing.T) {
	if !isNative(libseccomp.ArchAMD64) {
		t.Skip("x86_64 host only")
	}
	prog, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"read", "write", "getpid"}, Action: specs.ActAllow},
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkProgram(t, prog, []bpfCase{
		{"read", seccompData{nr: 0, arch: unix.AUDIT_ARCH_X86_64}, retAllow},
		{"below the bound", seccompData{nr: 5, arch: unix.AUDIT_ARCH_X86_64}, retEPERM},
		{"above the bound", seccompData{nr: 40, arch: unix.AUDIT_ARCH_X86_64}, retENOSYS},
		// An x32 call is not "newer": libseccomp treats it as a bad arch.
		{"x32 call", seccompData{nr: x32Bit | 40, arch: unix.AUDIT_ARCH_X86_64}, retKill},
		{"i386", seccompData{nr: 40, arch: unix.AUDIT_ARCH_I386}, retKill},
	})
}

func TestStubARMPrivateCalls(t *testing.T) {
	if !isNative(libseccomp.ArchAMD64) {
		t.Skip("x86_64 host only")
	}
	prog, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchARM},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd", "cacheflush"}, Action: specs.ActAllow}}})
	if err != nil {
		t.Fatal(err)
	}
	arm := uint32(unix.AUDIT_ARCH_ARM)
	checkProgram(t, prog, []bpfCase{
		{"getcwd", seccompData{nr: nrOf(t, "getcwd", libseccomp.ArchARM), arch: arm}, retAllow},
		{"cacheflush", seccompData{nr: nrOf(t, "cacheflush", libseccomp.ArchARM), arch: arm}, retAllow},
		{"older", seccompData{nr: 3, arch: arm}, retEPERM},
		{"newer", seccompData{nr: 400, arch: arm}, retENOSYS},
		// set_tls is ARM-private and unnamed: the default action, not ENOSYS.
		{"set_tls", seccompData{nr: nrOf(t, "set_tls", libseccomp.ArchARM), arch: arm}, retEPERM},
	})
}

func TestNoStubForAllowingOrEnosysDefault(t *testing.T) {
	for _, s := range []*specs.LinuxSeccomp{
		{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}},
		{DefaultAction: specs.ActLog, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}},
		{DefaultAction: specs.ActTrace, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActAllow}}},
		{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(uint(unix.ENOSYS)), Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActAllow}}},
	} {
		p, err := validate(s)
		if err != nil {
			t.Fatal(err)
		}
		if needsStub(p) {
			t.Errorf("%s: stub generated", s.DefaultAction)
		}
	}
}

// The s390 rule cannot be compiled on this host (byte order), so the
// stub is checked on its own, in front of a stand-in program.
func TestStubS390MultiplexedCall(t *testing.T) {
	stub, err := enosysStub([]archGroup{{audit: unix.AUDIT_ARCH_S390X, s390: true, ranges: []abiRange{{0, ^uint32(0), 300}}}})
	if err != nil {
		t.Fatal(err)
	}
	prog := append(stub, unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: retAllow})
	for _, c := range []bpfCase{
		{"nr 0", seccompData{nr: 0, arch: unix.AUDIT_ARCH_S390X}, retENOSYS},
		{"known", seccompData{nr: 5, arch: unix.AUDIT_ARCH_S390X}, retAllow},
		{"newer", seccompData{nr: 301, arch: unix.AUDIT_ARCH_S390X}, retENOSYS},
		{"other arch", seccompData{nr: 301, arch: unix.AUDIT_ARCH_X86_64}, retAllow},
	} {
		if got, err := runBPF(prog, c.d); err != nil || got != c.want {
			t.Errorf("%s: got %#x %v, want %#x", c.what, got, err, c.want)
		}
	}
}

func TestAssemblerRejectsLongJumps(t *testing.T) {
	var a asm
	a.jump(unix.BPF_JEQ, 0, "far", "")
	for i := 0; i < 300; i++ {
		a.op(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0)
	}
	a.label("far")
	if _, err := a.assemble(); err == nil {
		t.Fatal("a 300-instruction jump assembled")
	}
}

func TestArchTableMatchesLibseccomp(t *testing.T) {
	// libseccomp's own program tests the AUDIT_ARCH value; find ours there.
	for _, a := range archTable {
		if archSupported(a.name) != nil || a.scmp == libseccomp.ArchX32 {
			continue
		}
		p, err := validate(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{a.name},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno}}})
		if err != nil {
			t.Fatal(err)
		}
		prog, err := build(p)
		if err != nil {
			t.Fatal(err)
		}
		insns, _ := decodeInsns(prog.Filter)
		found := false
		for _, in := range insns {
			found = found || (in.Code == unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K && in.K == a.audit)
		}
		if !found {
			t.Errorf("%s: AUDIT_ARCH %#x not in libseccomp's program", a.name, a.audit)
		}
	}
}

func isNative(a libseccomp.ScmpArch) bool {
	n, err := libseccomp.GetNativeArch()
	return err == nil && n == a
}
