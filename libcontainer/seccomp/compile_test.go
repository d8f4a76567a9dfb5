package seccomp

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestCompileErrorsNameTheField(t *testing.T) {
	getcwdRule := func(mod func(*specs.LinuxSyscall)) *specs.LinuxSeccomp {
		r := specs.LinuxSyscall{Names: []string{"getcwd"}, Action: specs.ActErrno}
		mod(&r)
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActAllow},
			{Names: []string{"write"}, Action: specs.ActAllow},
			{Names: []string{"close"}, Action: specs.ActAllow},
			r,
		}}
	}
	for _, tc := range []struct {
		name string
		s    *specs.LinuxSeccomp
		want string
	}{
		{"default action", &specs.LinuxSeccomp{DefaultAction: "FOO"},
			`linux.seccomp.defaultAction: unknown action "FOO"`},
		{"missing default action", &specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}},
			`linux.seccomp.defaultAction: required`},
		{"notify default", &specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/x"},
			`linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action`},
		{"default errno with kill", &specs.LinuxSeccomp{DefaultAction: specs.ActKill, DefaultErrnoRet: uintp(1)},
			`linux.seccomp.defaultErrnoRet: SCMP_ACT_KILL takes no errno`},
		{"action", getcwdRule(func(r *specs.LinuxSyscall) { r.Action = "FOO" }),
			`linux.seccomp.syscalls[3].action: unknown action "FOO"`},
		{"errno with allow", getcwdRule(func(r *specs.LinuxSyscall) { r.Action, r.ErrnoRet = specs.ActAllow, uintp(1) }),
			`linux.seccomp.syscalls[3].errnoRet: SCMP_ACT_ALLOW takes no errno`},
		{"errno too big", getcwdRule(func(r *specs.LinuxSyscall) { r.ErrnoRet = uintp(70000) }),
			`linux.seccomp.syscalls[3].errnoRet: 70000 is out of range`},
		{"no names", getcwdRule(func(r *specs.LinuxSyscall) { r.Names = nil }),
			`linux.seccomp.syscalls[3].names: must contain at least one`},
		{"empty name", getcwdRule(func(r *specs.LinuxSyscall) { r.Names = []string{"getcwd", ""} }),
			`linux.seccomp.syscalls[3].names[1]: empty syscall name`},
		{"operator", getcwdRule(func(r *specs.LinuxSyscall) {
			r.Args = []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo}, {Index: 1, Op: "SCMP_CMP_FOO"}}
		}), `linux.seccomp.syscalls[3].args[1].op: unknown operator "SCMP_CMP_FOO"`},
		{"arg index", getcwdRule(func(r *specs.LinuxSyscall) {
			r.Args = []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}
		}), `linux.seccomp.syscalls[3].args[0].index: 6 is out of range`},
		{"notify on write", getcwdRule(func(r *specs.LinuxSyscall) { r.Action, r.Names = specs.ActNotify, []string{"read", "write"} }),
			`linux.seccomp.syscalls[3].names[1]: SCMP_ACT_NOTIFY cannot be used for the write syscall`},
		{"notify without listener", getcwdRule(func(r *specs.LinuxSyscall) { r.Action = specs.ActNotify }),
			`linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used`},
		{"metadata without listener", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerMetadata: "x"},
			`linux.seccomp.listenerMetadata: must not be set without listenerPath`},
		{"architecture", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86, "SCMP_ARCH_FOO"}},
			`linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_FOO"`},
		{"flag", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, "SECCOMP_FILTER_FLAG_FOO"}},
			`linux.seccomp.flags[1]: unknown flag "SECCOMP_FILTER_FLAG_FOO"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.s)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestArchitecturesOutsideThisLibseccomp(t *testing.T) {
	if Version() >= "2.6" {
		t.Skip("libseccomp 2.6 knows every architecture of the spec")
	}
	_, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchM68K}})
	if err == nil || !strings.Contains(err.Error(), "linux.seccomp.architectures[0]: SCMP_ARCH_M68K: not supported by libseccomp") {
		t.Fatalf("error = %v", err)
	}
	if slices.Contains(Archs(), string(specs.ArchM68K)) {
		t.Error("Archs lists an architecture Compile refuses")
	}
}

func TestArchitectureOfOtherByteOrder(t *testing.T) {
	if !nativeLittleEndian() {
		t.Skip("written for little-endian hosts")
	}
	_, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchS390X}})
	if err == nil || !strings.Contains(err.Error(), "linux.seccomp.architectures[0]: SCMP_ARCH_S390X: its byte order differs") {
		t.Fatalf("error = %v", err)
	}
}

func TestDisabled(t *testing.T) {
	for _, s := range []*specs.LinuxSeccomp{nil, {}, {Architectures: []specs.Arch{specs.ArchX86}}} {
		if p, err := Compile(s); p != nil || err != nil {
			t.Errorf("Compile(%+v) = %v, %v; want nil, nil", s, p, err)
		}
	}
}

func TestFeatureLists(t *testing.T) {
	if got := Actions(); len(got) != 9 || !slices.IsSorted(got) || !slices.Contains(got, "SCMP_ACT_KILL_PROCESS") {
		t.Errorf("Actions() = %v", got)
	}
	if got := Operators(); len(got) != 7 || !slices.IsSorted(got) || !slices.Contains(got, "SCMP_CMP_MASKED_EQ") {
		t.Errorf("Operators() = %v", got)
	}
	archs := Archs()
	for _, a := range []specs.Arch{specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchAARCH64, specs.ArchRISCV64} {
		if !slices.Contains(archs, string(a)) {
			t.Errorf("Archs() = %v lacks %s", archs, a)
		}
	}
	// Every listed name must be accepted by Compile on its own, unless
	// it is of the other byte order.
	for _, a := range archs {
		_, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.Arch(a)}})
		if err != nil && !strings.Contains(err.Error(), "byte order") {
			t.Errorf("Archs() lists %s but Compile says %v", a, err)
		}
	}
	known := KnownFlags()
	if len(known) != 4 {
		t.Errorf("KnownFlags() = %v", known)
	}
	supported := SupportedFlags()
	// Kernel 5.19 and later know all four.
	for _, f := range known {
		if !slices.Contains(supported, f) {
			t.Logf("this kernel does not support %s", f)
		}
	}
	for _, f := range supported {
		s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(f)}}
		if _, err := Compile(s); err != nil {
			t.Errorf("SupportedFlags() lists %s but Compile says %v", f, err)
		}
	}
	if v := Version(); !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		t.Errorf("Version() = %q", v)
	}
}

func TestSkippedRulesEqualToDefault(t *testing.T) {
	// libseccomp rejects rules with the default action; they are dropped.
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"getcwd"}, Action: specs.ActErrno, ErrnoRet: uintp(1)},
		{Names: []string{"read"}, Action: specs.ActAllow},
	}}
	if _, err := Compile(s); err != nil {
		t.Fatal(err)
	}
}
