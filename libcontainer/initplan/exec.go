package initplan

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// ExecOptions are what an exec plan needs besides the process.
type ExecOptions struct {
	Options
	// NamespacePaths of the running container, joined in joinOrder.
	NamespacePaths map[configs.NamespaceType]string
	// UserNS: the container has its own user namespace (setgroups may be
	// denied there when rootless).
	UserNS bool
	// CgroupSelfJoin lists the cgroup v1 directories the process joins
	// by itself: stage 1 opens their tasks files before it joins any
	// namespace, the forked process writes "0" to them (CgroupJoin).
	// Empty: the parent moves the forked process (SyncJoinCgroup).
	CgroupSelfJoin []string
}

// BuildExec makes the plan of `skiff exec`: join every namespace of the
// container, become the process, report the pid, execve. The parent
// reads until the socket closes on execve.
func BuildExec(p *configs.Process, o ExecOptions) (*Result, error) {
	r := &Result{Plan: &Plan{}}
	add := func(s Step) { r.Plan.Steps = append(r.Plan.Steps, s) }

	var final Step
	if a := execAffinity(p); a != nil {
		if a.Initial != "" {
			s, err := cpuAffinity("process.execCPUAffinity.initial", a.Initial)
			if err != nil {
				return nil, err
			}
			add(s)
		}
		if a.Final != "" {
			s, err := cpuAffinity("process.execCPUAffinity.final", a.Final)
			if err != nil {
				return nil, err
			}
			final = s
		}
	}
	for _, dir := range o.CgroupSelfJoin {
		add(CgroupJoin{Dir: dir, Later: true})
	}
	var nss []configs.Namespace
	for t, path := range o.NamespacePaths {
		nss = append(nss, configs.Namespace{Type: t, Path: path})
	}
	sortNamespaces(nss)
	for _, ns := range joinOrder(nss) {
		add(NSJoin{Type: nsFlags[ns.Type], Path: ns.Path})
	}
	add(ForkInit{})
	// Only the forked process joins the cgroup, not stage 1 before it: a
	// container one pid short of pids.max can still be exec'd into.
	if len(o.CgroupSelfJoin) > 0 {
		add(CgroupJoinKept{})
	} else {
		add(Sync{Tag: SyncJoinCgroup})
	}
	if o.SessionKeyring != "" {
		add(SessionKeyring{Name: o.SessionKeyring, Label: keyLabel(p, o.Options)})
	}
	if p.Terminal {
		add(Setsid{})
		add(Console{Rows: uint32(p.ConsoleHeight), Cols: uint32(p.ConsoleWidth)})
	}
	cfg := &configs.Config{Process: *p}
	if o.UserNS {
		cfg.Namespaces = []configs.Namespace{{Type: configs.NEWUSER}}
	}
	if err := planProcess(cfg, o.Options, r, add); err != nil {
		return nil, err
	}
	place := seccompPlace(p, o.Options)
	if place == seccompBeforeReady {
		add(seccompStep(o.Seccomp))
	}
	add(ReportPid{})
	if place == seccompLast {
		add(seccompStep(o.Seccomp))
	}
	if final != nil {
		add(final)
	}
	add(Exec{Args: p.Args, Env: p.Env})
	return r, nil
}

func execAffinity(p *configs.Process) *specs.CPUAffinity {
	if p.Spec == nil {
		return nil
	}
	return p.Spec.ExecCPUAffinity
}

// BuildHook makes the plan of a createContainer or startContainer hook:
// join the container's namespaces and execve the hook as root with the
// runtime's capabilities. Hook paths are absolute (specconv checks) and
// resolve the same before pivot_root; the parent feeds the state on
// stdin and enforces the timeout.
func BuildHook(path string, args, env []string, o ExecOptions) *Plan {
	p := &Plan{}
	add := func(s Step) { p.Steps = append(p.Steps, s) }
	var nss []configs.Namespace
	for t, path := range o.NamespacePaths {
		nss = append(nss, configs.Namespace{Type: t, Path: path})
	}
	sortNamespaces(nss)
	for _, ns := range joinOrder(nss) {
		add(NSJoin{Type: nsFlags[ns.Type], Path: ns.Path})
	}
	add(ForkInit{})
	add(ExecResolve{Arg0: path})
	add(CloseFds{First: uint32(o.SockFd + 1)})
	add(ReportPid{})
	if len(args) == 0 {
		args = []string{path}
	}
	add(Exec{Args: args, Env: env})
	return p
}

// sortNamespaces puts namespaces in a fixed order, map order being random.
func sortNamespaces(nss []configs.Namespace) {
	rank := map[configs.NamespaceType]int{
		configs.NEWUSER: 0, configs.NEWIPC: 1, configs.NEWUTS: 2, configs.NEWNET: 3,
		configs.NEWPID: 4, configs.NEWCGROUP: 5, configs.NEWTIME: 6, configs.NEWNS: 7,
	}
	sort.Slice(nss, func(i, j int) bool { return rank[nss[i].Type] < rank[nss[j].Type] })
}
