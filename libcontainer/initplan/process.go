package initplan

import (
	"fmt"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// defaultUmask is what runc gives a process whose config sets none.
const defaultUmask = 0o022

// planProcess adds the steps that shape the process: limits, identity,
// capabilities, directory, and the lookup of its program.
func planProcess(cfg *configs.Config, o Options, r *Result, add func(Step)) error {
	p := &cfg.Process
	for _, rl := range p.Rlimits {
		add(Rlimit{Resource: uint32(rl.Type), Soft: rl.Soft, Hard: rl.Hard})
	}
	if p.SelinuxLabel != "" && o.SELinux {
		// Before the fds close: it is written through the init's procfs.
		add(ExecLabel{Label: p.SelinuxLabel})
	}
	// From here on the init needs none of its own fds; closing them now
	// also means a seccomp filter loaded next only meets old, plain
	// syscalls (prctl, setresuid, capset, chdir, stat, read, execve).
	add(CloseFds{First: uint32(o.SockFd + 1)})
	var linux *specs.Linux
	if cfg.Spec != nil {
		linux = cfg.Spec.Linux
	}
	attrs, err := processAttributes(p.Spec, linux)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		add(a)
	}
	caps, warnings := capabilityMasks(p.Capabilities, o)
	r.Warnings = append(r.Warnings, warnings...)
	if seccompPlace(p, o) == seccompBeforeCaps {
		add(seccompStep(o.Seccomp))
	}
	add(CapsBounding{Keep: caps.bounding, LastCap: o.LastCap})
	add(User{
		UID: p.UID, GID: p.GID, Groups: p.AdditionalGids,
		// An unprivileged user namespace has "deny" in setgroups.
		SetGroups: !(o.Rootless && cfg.HasNamespace(configs.NEWUSER)),
	})
	add(Caps{Effective: caps.effective, Permitted: caps.permitted, Inheritable: caps.inheritable, Ambient: caps.ambient})
	if p.NoNewPrivileges {
		add(NoNewPrivs{})
	}
	umask := uint32(defaultUmask)
	if p.Umask != nil {
		umask = *p.Umask
	}
	add(Umask{Mask: umask})
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	add(Cwd{Dir: cwd})
	if len(p.Args) == 0 {
		return fmt.Errorf("process.args: must not be empty")
	}
	add(ExecResolve{Arg0: p.Args[0], Path: envValue(p.Env, "PATH")})
	return nil
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

type capMasks struct {
	bounding, effective, permitted, inheritable, ambient uint64
}

// capabilityMasks converts names to bit masks. runtime-spec v1.3.0: a
// capability unknown to the kernel or missing from the runtime's own
// bounding set is logged as a warning and left out, not an error.
func capabilityMasks(c *configs.Capabilities, o Options) (capMasks, []string) {
	var m capMasks
	if c == nil {
		return m, nil
	}
	var warnings []string
	warned := map[string]bool{}
	mask := func(set string, names []string) uint64 {
		var v uint64
		for _, n := range names {
			num, ok := o.CapByName[strings.ToUpper(n)]
			switch {
			case !ok || num > o.LastCap:
				if !warned[n] {
					warnings = append(warnings, fmt.Sprintf("process.capabilities.%s: %s is not known to this kernel, ignored", set, n))
				}
				warned[n] = true
			case o.HostBounding&(1<<num) == 0:
				if !warned[n] {
					warnings = append(warnings, fmt.Sprintf("process.capabilities.%s: %s is not in the runtime's bounding set, ignored", set, n))
				}
				warned[n] = true
			default:
				v |= 1 << num
			}
		}
		return v
	}
	m.bounding = mask("bounding", c.Bounding)
	m.effective = mask("effective", c.Effective)
	m.permitted = mask("permitted", c.Permitted)
	m.inheritable = mask("inheritable", c.Inheritable)
	m.ambient = mask("ambient", c.Ambient)
	return m, warnings
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
