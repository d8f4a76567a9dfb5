package initplan

import (
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
}

// BuildExec makes the plan of `skiff exec`: join every namespace of the
// container, become the process, report the pid, execve. The parent
// reads until the socket closes on execve.
func BuildExec(p *configs.Process, o ExecOptions) (*Result, error) {
	r := &Result{Plan: &Plan{}}
	add := func(s Step) { r.Plan.Steps = append(r.Plan.Steps, s) }

	var nss []configs.Namespace
	for _, t := range []configs.NamespaceType{
		configs.NEWUSER, configs.NEWIPC, configs.NEWUTS, configs.NEWNET,
		configs.NEWPID, configs.NEWCGROUP, configs.NEWTIME, configs.NEWNS,
	} {
		if path, ok := o.NamespacePaths[t]; ok {
			nss = append(nss, configs.Namespace{Type: t, Path: path})
		}
	}
	for _, ns := range joinOrder(nss) {
		add(NSJoin{Type: nsFlags[ns.Type], Path: ns.Path})
	}
	add(ForkInit{})
	if p.Terminal {
		add(Setsid{})
		add(Console{Rows: uint32(p.ConsoleHeight), Cols: uint32(p.ConsoleWidth)})
	}
	cfg := &configs.Config{Process: *p}
	if o.UserNS {
		cfg.Namespaces = []configs.Namespace{{Type: configs.NEWUSER}}
	}
	if err := planProcess(cfg, o.Options, false, r, add); err != nil {
		return nil, err
	}
	add(CloexecFds{First: uint32(3 + o.PreserveFDs)})
	add(ReportPid{})
	add(Exec{Args: p.Args, Env: p.Env})
	return r, nil
}
