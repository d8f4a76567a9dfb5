package seccomp

import (
	"errors"
	"fmt"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

const field = "linux.seccomp"

// profile is a checked LinuxSeccomp with every name already turned into
// libseccomp's terms, so that building the filter cannot fail on input.
type profile struct {
	defAct   libseccomp.ScmpAction
	defKind  actionKind
	archs    []*archInfo // native first, no duplicates
	flags    uint32      // requested flags, kernel bits (without NEW_LISTENER)
	listener bool
	rules    []rule
}

type rule struct {
	field string // "linux.seccomp.syscalls[3]", for errors and logs
	names []string
	act   libseccomp.ScmpAction
	// conds holds one condition list per libseccomp rule: the conditions
	// of one list must all match (AND), the lists are alternatives (OR).
	// nil means the rule has no argument conditions.
	conds [][]libseccomp.ScmpCondition
}

// maxSyscallArgs is the number of arguments a Linux syscall can have.
const maxSyscallArgs = 6

func validate(s *specs.LinuxSeccomp) (*profile, error) {
	p := &profile{}
	var err error
	p.defAct, p.defKind, err = resolveAction(s.DefaultAction, s.DefaultErrnoRet,
		field+".defaultAction", field+".defaultErrnoRet")
	if err != nil {
		return nil, err
	}
	// After loading the filter the init must still hand the listener fd
	// to skiff; if every syscall waited for the agent, which only gets the
	// fd after that, it would wait forever.
	if p.defKind == kindNotify {
		return nil, fmt.Errorf("%s.defaultAction: SCMP_ACT_NOTIFY cannot be the default action", field)
	}

	if err := p.addArchs(s.Architectures); err != nil {
		return nil, err
	}

	for i, name := range s.Flags {
		f := flagByName(name)
		if f == nil {
			return nil, fmt.Errorf("%s.flags[%d]: unknown flag %q", field, i, name)
		}
		if f.name != flagTsync && !kernelKnowsFlag(f.name) {
			return nil, fmt.Errorf("%s.flags[%d]: %s is not supported by this kernel", field, i, name)
		}
		p.flags |= f.bits
	}

	for i := range s.Syscalls {
		r, err := validateSyscall(&s.Syscalls[i], fmt.Sprintf("%s.syscalls[%d]", field, i))
		if err != nil {
			return nil, err
		}
		if s.Syscalls[i].Action == specs.ActNotify {
			p.listener = true
		}
		p.rules = append(p.rules, r)
	}

	if p.listener {
		if api, _ := libseccomp.GetAPI(); api < 6 {
			return nil, fmt.Errorf("%s: SCMP_ACT_NOTIFY needs libseccomp API level 6 (libseccomp >= 2.5, Linux >= 5.7), have %d", field, api)
		}
		if s.ListenerPath == "" {
			return nil, fmt.Errorf("%s.listenerPath: required when SCMP_ACT_NOTIFY is used", field)
		}
	}
	if s.ListenerMetadata != "" && s.ListenerPath == "" {
		return nil, fmt.Errorf("%s.listenerMetadata: must not be set without listenerPath", field)
	}
	return p, nil
}

func (p *profile) addArchs(names []specs.Arch) error {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return fmt.Errorf("seccomp: cannot tell the native architecture: %w", err)
	}
	na := archByScmp(native)
	if na == nil {
		return fmt.Errorf("seccomp: native architecture %v is unknown to skiff", native)
	}
	p.archs = append(p.archs, na)
	for i, name := range names {
		a := archByName(name)
		if a == nil {
			return fmt.Errorf("%s.architectures[%d]: unknown architecture %q", field, i, name)
		}
		if err := archSupported(name); err != nil {
			return fmt.Errorf("%s.architectures[%d]: %s: %w", field, i, name, err)
		}
		dup := false
		for _, have := range p.archs {
			dup = dup || have == a
		}
		if !dup {
			p.archs = append(p.archs, a)
		}
	}
	return nil
}

func validateSyscall(sc *specs.LinuxSyscall, f string) (rule, error) {
	r := rule{field: f, names: sc.Names}
	var err error
	var kind actionKind
	r.act, kind, err = resolveAction(sc.Action, sc.ErrnoRet, f+".action", f+".errnoRet")
	if err != nil {
		return r, err
	}
	if len(sc.Names) == 0 {
		return r, fmt.Errorf("%s.names: must contain at least one syscall name", f)
	}
	for j, n := range sc.Names {
		if n == "" {
			return r, fmt.Errorf("%s.names[%d]: empty syscall name", f, j)
		}
		// The init sends the listener fd to skiff with sendmsg after
		// loading the filter, before any agent holds the fd: a notified
		// sendmsg (or write, as runc forbids) would wait forever.
		if kind == kindNotify && (n == "write" || n == "sendmsg") {
			return r, fmt.Errorf("%s.names[%d]: SCMP_ACT_NOTIFY cannot be used for the %s syscall", f, j, n)
		}
	}
	if len(sc.Args) == 0 {
		return r, nil
	}

	conds := make([]libseccomp.ScmpCondition, 0, len(sc.Args))
	var perIndex [maxSyscallArgs]int
	sameIndex := false
	for j, a := range sc.Args {
		af := fmt.Sprintf("%s.args[%d]", f, j)
		op, ok := operators[a.Op]
		if !ok {
			return r, fmt.Errorf("%s.op: unknown operator %q", af, a.Op)
		}
		if a.Index >= maxSyscallArgs {
			return r, fmt.Errorf("%s.index: %d is out of range (a syscall has arguments 0 to %d)", af, a.Index, maxSyscallArgs-1)
		}
		var c libseccomp.ScmpCondition
		if op == libseccomp.CompareMaskedEqual {
			// value is the mask, valueTwo what the masked argument must equal.
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		} else {
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value)
		}
		if err != nil {
			return r, fmt.Errorf("%s: %w", af, err)
		}
		perIndex[a.Index]++
		sameIndex = sameIndex || perIndex[a.Index] > 1
		conds = append(conds, c)
	}
	if sameIndex {
		// As runc: when one rule tests an argument more than once, each
		// test becomes a rule of its own, so they match as alternatives.
		// (libseccomp cannot AND two tests of one argument anyway.)
		for _, c := range conds {
			r.conds = append(r.conds, []libseccomp.ScmpCondition{c})
		}
	} else {
		r.conds = [][]libseccomp.ScmpCondition{conds}
	}
	return r, nil
}

// resolveAction turns an action name and its optional errno into
// libseccomp's action; af and ef are the config.json fields for errors.
func resolveAction(name specs.LinuxSeccompAction, errnoRet *uint, af, ef string) (libseccomp.ScmpAction, actionKind, error) {
	info, ok := actions[name]
	if !ok {
		if name == "" {
			return libseccomp.ActInvalid, 0, errors.New(af + ": required")
		}
		return libseccomp.ActInvalid, 0, fmt.Errorf("%s: unknown action %q", af, name)
	}
	if info.kind != kindErrno && info.kind != kindTrace {
		if errnoRet != nil {
			return libseccomp.ActInvalid, 0, fmt.Errorf("%s: %s takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)", ef, name)
		}
		return info.act, info.kind, nil
	}
	code := uint(unix.EPERM)
	if errnoRet != nil {
		code = *errnoRet
		// The filter returns 16 bits of data with the action.
		if code > unix.SECCOMP_RET_DATA {
			return libseccomp.ActInvalid, 0, fmt.Errorf("%s: %d is out of range (0 to %d)", ef, code, unix.SECCOMP_RET_DATA)
		}
	}
	return info.act.SetReturnCode(int16(uint16(code))), info.kind, nil
}
