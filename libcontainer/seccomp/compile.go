// Package seccomp turns a config.json seccomp profile into a cBPF
// program for the C init to load with seccomp(2), and hands the notify
// listener fd to a seccomp agent. libseccomp generates the filter; skiff
// adds an ENOSYS prologue (see enosys.go) and caches the result by
// content (see cache.go), because engines use one profile for every
// container.
package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/logs"
)

// Program is a compiled filter, ready for seccomp(SECCOMP_SET_MODE_FILTER,
// Flags, &prog).
type Program struct {
	// Filter is an array of struct sock_filter in host byte order.
	Filter []byte
	// Flags are the SECCOMP_FILTER_FLAG_* bits to load it with; they
	// include NEW_LISTENER when Listener is set.
	Flags uint32
	// Listener: the profile has SCMP_ACT_NOTIFY rules, so seccomp(2)
	// returns a notify fd, which must go to the agent at listenerPath
	// (SendListener).
	Listener bool
}

// Len is the number of BPF instructions.
func (p *Program) Len() int { return len(p.Filter) / sizeofSockFilter }

const (
	sizeofSockFilter = 8
	// BPF_MAXINSNS: the kernel refuses longer programs.
	maxInsns = 4096
)

// Compile checks a config.json seccomp profile and compiles it. It
// returns nil and no error when the profile disables seccomp (nil, or no
// default action and no syscalls, as runc treats it). Errors about the
// profile name the config.json field.
func Compile(s *specs.LinuxSeccomp) (*Program, error) {
	if s == nil || (s.DefaultAction == "" && len(s.Syscalls) == 0) {
		return nil, nil
	}
	p, err := validate(s)
	if err != nil {
		return nil, err
	}
	key, keyErr := cacheKey(s)
	if keyErr == nil {
		if prog := cacheLoad(key); prog != nil {
			return prog, nil
		}
	}
	prog, err := build(p)
	if err != nil {
		return nil, err
	}
	if keyErr == nil {
		cacheStore(key, prog)
	}
	return prog, nil
}

func build(p *profile) (*Program, error) {
	f, err := libseccomp.NewFilter(p.defAct)
	if err != nil {
		return nil, fmt.Errorf("seccomp: creating the filter: %w", err)
	}
	defer f.Release()
	for _, a := range p.archs[1:] {
		if err := f.AddArch(a.scmp); err != nil {
			return nil, fmt.Errorf("seccomp: adding architecture %s: %w", a.name, err)
		}
	}
	nrules := 0
	for _, r := range p.rules {
		nrules += len(r.names)
	}
	// A binary search over syscall numbers beats libseccomp's default
	// linear chain for long profiles; libseccomp <= 2.5.4 miscompiles the
	// tree for an empty one, so only for long ones.
	if nrules > 32 {
		if err := f.SetOptimize(2); err != nil {
			logs.Debugf("seccomp: binary tree optimization unavailable: %v", err)
		}
	}
	for _, r := range p.rules {
		if err := addRule(f, p, &r); err != nil {
			return nil, err
		}
	}

	main, err := export(f)
	if err != nil {
		return nil, err
	}
	// The stub relies on libseccomp's program loading the architecture
	// itself before it tests anything.
	if len(main) == 0 || main[0].Code != unix.BPF_LD|unix.BPF_W|unix.BPF_ABS || main[0].K != offArch {
		return nil, errors.New("seccomp: libseccomp's program does not start by loading the architecture")
	}
	insns := main
	if needsStub(p) {
		stub, err := enosysStub(stubGroups(p))
		if err != nil {
			return nil, err
		}
		insns = append(stub, main...)
	}
	if len(insns) > maxInsns {
		return nil, fmt.Errorf("seccomp: the filter has %d instructions, more than the kernel's limit of %d", len(insns), maxInsns)
	}

	prog := &Program{Filter: make([]byte, 0, len(insns)*sizeofSockFilter), Flags: p.flags, Listener: p.listener}
	for _, in := range insns {
		prog.Filter = binary.NativeEndian.AppendUint16(prog.Filter, in.Code)
		prog.Filter = append(prog.Filter, in.Jt, in.Jf)
		prog.Filter = binary.NativeEndian.AppendUint32(prog.Filter, in.K)
	}
	if p.listener {
		prog.Flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	} else {
		// The kernel accepts WAIT_KILLABLE_RECV only with a listener; it
		// changes how notifications wait, so without one it means nothing.
		prog.Flags &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	}
	return prog, nil
}

func addRule(f *libseccomp.ScmpFilter, p *profile, r *rule) error {
	for j, name := range r.names {
		nr, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			// As runc: a syscall libseccomp does not know is one this
			// kernel generation may not have; the profile still works.
			logs.Debugf("seccomp: unknown syscall %q (%s.names[%d]) ignored", name, r.field, j)
			continue
		}
		// libseccomp refuses rules that repeat the default action.
		if r.act == p.defAct {
			continue
		}
		if r.conds == nil {
			err = f.AddRule(nr, r.act)
		} else {
			for _, c := range r.conds {
				if err = f.AddRuleConditional(nr, r.act, c); err != nil {
					break
				}
			}
		}
		if err != nil {
			return fmt.Errorf("%s.names[%d]: adding a rule for %q: %w", r.field, j, name, err)
		}
	}
	return nil
}

// export gets libseccomp's program. libseccomp 2.5 can only write it to
// a file descriptor, so it goes through a memfd.
func export(f *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("skiff-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp: memfd_create: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "skiff-seccomp")
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("seccomp: exporting the filter: %w", err)
	}
	if _, err := mf.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seccomp: exporting the filter: %w", err)
	}
	raw, err := io.ReadAll(mf)
	if err != nil {
		return nil, fmt.Errorf("seccomp: exporting the filter: %w", err)
	}
	return decodeInsns(raw)
}

func decodeInsns(raw []byte) ([]unix.SockFilter, error) {
	if len(raw)%sizeofSockFilter != 0 {
		return nil, fmt.Errorf("seccomp: filter of %d bytes is not a whole number of instructions", len(raw))
	}
	insns := make([]unix.SockFilter, len(raw)/sizeofSockFilter)
	for i := range insns {
		b := raw[i*sizeofSockFilter:]
		insns[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return insns, nil
}
