package seccomp

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The tables below are the single source for both Compile and `skiff
// features`, so what features reports is exactly what Compile accepts.

type actionKind int

const (
	kindKill actionKind = iota // kill the thread or the process, or trap: a denial
	kindErrno
	kindTrace
	kindAllow // allow and log: the call proceeds
	kindNotify
)

type actionInfo struct {
	act  libseccomp.ScmpAction
	kind actionKind
}

var actions = map[specs.LinuxSeccompAction]actionInfo{
	// SCMP_ACT_KILL is libseccomp's old name for killing the thread.
	specs.ActKill:        {libseccomp.ActKillThread, kindKill},
	specs.ActKillThread:  {libseccomp.ActKillThread, kindKill},
	specs.ActKillProcess: {libseccomp.ActKillProcess, kindKill},
	specs.ActTrap:        {libseccomp.ActTrap, kindKill},
	specs.ActErrno:       {libseccomp.ActErrno, kindErrno},
	specs.ActTrace:       {libseccomp.ActTrace, kindTrace},
	specs.ActAllow:       {libseccomp.ActAllow, kindAllow},
	specs.ActLog:         {libseccomp.ActLog, kindAllow},
	specs.ActNotify:      {libseccomp.ActNotify, kindNotify},
}

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// archInfo maps a config.json architecture to libseccomp's token and to
// the AUDIT_ARCH_* value the kernel puts in seccomp_data.arch, which is
// what the ENOSYS stub must compare against (libseccomp's own tokens are
// not always AUDIT_ARCH values: x32 has a made-up one).
type archInfo struct {
	name  specs.Arch
	scmp  libseccomp.ScmpArch
	audit uint32
	// nrLo/nrHi bound the syscall numbers that belong to this ABI within
	// its AUDIT_ARCH; x86_64 and x32 share AUDIT_ARCH_X86_64 and differ
	// only by bit 30 of the number. ARM's private calls (0xf0000 up) are
	// excluded so that naming cacheflush does not push the bound past
	// every ordinary syscall.
	nrLo, nrHi uint32
}

const (
	x32Bit      = 0x40000000
	armPrivBase = 0x0f0000
)

var archTable = []archInfo{
	{specs.ArchX86, libseccomp.ArchX86, unix.AUDIT_ARCH_I386, 0, ^uint32(0)},
	{specs.ArchX86_64, libseccomp.ArchAMD64, unix.AUDIT_ARCH_X86_64, 0, x32Bit - 1},
	{specs.ArchX32, libseccomp.ArchX32, unix.AUDIT_ARCH_X86_64, x32Bit, ^uint32(0)},
	{specs.ArchARM, libseccomp.ArchARM, unix.AUDIT_ARCH_ARM, 0, armPrivBase - 1},
	{specs.ArchAARCH64, libseccomp.ArchARM64, unix.AUDIT_ARCH_AARCH64, 0, ^uint32(0)},
	{specs.ArchMIPS, libseccomp.ArchMIPS, unix.AUDIT_ARCH_MIPS, 0, ^uint32(0)},
	{specs.ArchMIPS64, libseccomp.ArchMIPS64, unix.AUDIT_ARCH_MIPS64, 0, ^uint32(0)},
	{specs.ArchMIPS64N32, libseccomp.ArchMIPS64N32, unix.AUDIT_ARCH_MIPS64N32, 0, ^uint32(0)},
	{specs.ArchMIPSEL, libseccomp.ArchMIPSEL, unix.AUDIT_ARCH_MIPSEL, 0, ^uint32(0)},
	{specs.ArchMIPSEL64, libseccomp.ArchMIPSEL64, unix.AUDIT_ARCH_MIPSEL64, 0, ^uint32(0)},
	{specs.ArchMIPSEL64N32, libseccomp.ArchMIPSEL64N32, unix.AUDIT_ARCH_MIPSEL64N32, 0, ^uint32(0)},
	{specs.ArchPPC, libseccomp.ArchPPC, unix.AUDIT_ARCH_PPC, 0, ^uint32(0)},
	{specs.ArchPPC64, libseccomp.ArchPPC64, unix.AUDIT_ARCH_PPC64, 0, ^uint32(0)},
	{specs.ArchPPC64LE, libseccomp.ArchPPC64LE, unix.AUDIT_ARCH_PPC64LE, 0, ^uint32(0)},
	{specs.ArchS390, libseccomp.ArchS390, unix.AUDIT_ARCH_S390, 0, ^uint32(0)},
	{specs.ArchS390X, libseccomp.ArchS390X, unix.AUDIT_ARCH_S390X, 0, ^uint32(0)},
	{specs.ArchPARISC, libseccomp.ArchPARISC, unix.AUDIT_ARCH_PARISC, 0, ^uint32(0)},
	{specs.ArchPARISC64, libseccomp.ArchPARISC64, unix.AUDIT_ARCH_PARISC64, 0, ^uint32(0)},
	{specs.ArchRISCV64, libseccomp.ArchRISCV64, unix.AUDIT_ARCH_RISCV64, 0, ^uint32(0)},
	{specs.ArchLOONGARCH64, libseccomp.ArchLOONGARCH64, unix.AUDIT_ARCH_LOONGARCH64, 0, ^uint32(0)},
	{specs.ArchM68K, libseccomp.ArchM68K, unix.AUDIT_ARCH_M68K, 0, ^uint32(0)},
	// libseccomp's SH is little-endian SuperH; SHEB the big-endian one.
	{specs.ArchSH, libseccomp.ArchSH, unix.AUDIT_ARCH_SHEL, 0, ^uint32(0)},
	{specs.ArchSHEB, libseccomp.ArchSHEB, unix.AUDIT_ARCH_SH, 0, ^uint32(0)},
}

func archByName(name specs.Arch) *archInfo {
	for i := range archTable {
		if archTable[i].name == name {
			return &archTable[i]
		}
	}
	return nil
}

func archByScmp(a libseccomp.ScmpArch) *archInfo {
	for i := range archTable {
		if archTable[i].scmp == a {
			return &archTable[i]
		}
	}
	return nil
}

// archSupport says whether this libseccomp can put an architecture in a
// filter for the native one. errArchByteOrder: it knows the architecture
// but cannot mix byte orders in one filter; any other error: this
// libseccomp does not know it at all.
var (
	archOnce    sync.Once
	archSupport map[specs.Arch]error
)

var errArchByteOrder = errors.New("its byte order differs from the native architecture's")

func archSupported(name specs.Arch) error {
	archOnce.Do(func() {
		archSupport = make(map[specs.Arch]error, len(archTable))
		for _, a := range archTable {
			archSupport[a.name] = probeArch(a.scmp)
		}
	})
	return archSupport[name]
}

func probeArch(a libseccomp.ScmpArch) error {
	f, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return err
	}
	defer f.Release()
	err = f.AddArch(a)
	if errors.Is(err, syscall.EDOM) {
		return errArchByteOrder
	}
	if err != nil {
		return fmt.Errorf("not supported by libseccomp %s", Version())
	}
	return nil
}

// Filter flags. TSYNC is accepted but never passed to the kernel: the
// filter is loaded by the single-threaded C init just before execve, so
// there are no other threads to synchronise, and the kernel refuses TSYNC
// together with NEW_LISTENER.
const flagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

type flagInfo struct {
	name specs.LinuxSeccompFlag
	bits uint32
	// probe is the flag set that tells whether the kernel knows the
	// flag: WAIT_KILLABLE_RECV is only valid with NEW_LISTENER.
	probe uint32
}

var flagTable = []flagInfo{
	{flagTsync, 0, unix.SECCOMP_FILTER_FLAG_TSYNC},
	{specs.LinuxSeccompFlagLog, unix.SECCOMP_FILTER_FLAG_LOG, unix.SECCOMP_FILTER_FLAG_LOG},
	{specs.LinuxSeccompFlagSpecAllow, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
	{
		specs.LinuxSeccompFlagWaitKillableRecv, unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
		unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER,
	},
}

var (
	flagOnce     sync.Once
	flagKernelOK map[specs.LinuxSeccompFlag]bool
)

// kernelKnowsFlag asks the kernel itself: seccomp(SET_MODE_FILTER) checks
// the flags before it reads the program, so a NULL program gives EFAULT
// for flags it knows and EINVAL for the rest, and installs nothing.
// skiff loads the filter with its own seccomp(2) call, so only the
// kernel, not libseccomp, decides which flags work.
func kernelKnowsFlag(name specs.LinuxSeccompFlag) bool {
	flagOnce.Do(func() {
		flagKernelOK = make(map[specs.LinuxSeccompFlag]bool, len(flagTable))
		for _, f := range flagTable {
			_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(f.probe), 0)
			flagKernelOK[f.name] = errno == unix.EFAULT
		}
	})
	return flagKernelOK[name]
}

func flagByName(name specs.LinuxSeccompFlag) *flagInfo {
	for i := range flagTable {
		if flagTable[i].name == name {
			return &flagTable[i]
		}
	}
	return nil
}

// Actions lists the action names Compile accepts, sorted.
func Actions() []string {
	var r []string
	for a := range actions {
		r = append(r, string(a))
	}
	slices.Sort(r)
	return r
}

// Operators lists the argument operators Compile accepts, sorted.
func Operators() []string {
	var r []string
	for o := range operators {
		r = append(r, string(o))
	}
	slices.Sort(r)
	return r
}

// Archs lists the architecture names this build's libseccomp knows,
// sorted. Some of them (those of the other byte order) still cannot be
// combined with the native architecture; Compile says so.
func Archs() []string {
	var r []string
	for _, a := range archTable {
		if err := archSupported(a.name); err == nil || err == errArchByteOrder {
			r = append(r, string(a.name))
		}
	}
	slices.Sort(r)
	return r
}

// KnownFlags lists the filter flags Compile recognises.
func KnownFlags() []string {
	r := make([]string, 0, len(flagTable))
	for _, f := range flagTable {
		r = append(r, string(f.name))
	}
	return r
}

// SupportedFlags lists the recognised flags that the running kernel
// supports (TSYNC always: skiff has nothing to synchronise).
func SupportedFlags() []string {
	var r []string
	for _, f := range flagTable {
		if f.name == flagTsync || kernelKnowsFlag(f.name) {
			r = append(r, string(f.name))
		}
	}
	return r
}

// Version is the version of the libseccomp skiff runs with, e.g. "2.5.4".
func Version() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}
