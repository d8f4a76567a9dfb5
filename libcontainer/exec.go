package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/selinux/go-selinux"

	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/initplan"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// ExecOptions are `skiff exec`'s inputs besides the container.
type ExecOptions struct {
	Process       *configs.Process
	PreserveFDs   int
	PidFile       string
	ConsoleSocket string
	// OnConsole takes the pty master when the caller proxies the
	// terminal itself; otherwise it goes to ConsoleSocket.
	OnConsole func(master *os.File) error
	// SubCgroups (--cgroup) puts the process in existing sub-cgroups of
	// the container's: controller -> relative path, "" for every one.
	SubCgroups map[string]string
}

// Exec starts a process in the running container st and returns its pid
// once it has execve()d. The caller waits for it: it is reparented to the
// caller when the caller is a child subreaper.
func Exec(st *state.State, o *ExecOptions) (int, error) {
	tr := newTrace("exec in " + st.ID)
	defer tr.done()
	if o.Process.Terminal && o.ConsoleSocket == "" && o.OnConsole == nil {
		return 0, errors.New("cannot allocate tty if runc will detach without setting console socket")
	}
	if o.Process.ApparmorProfile != "" && !apparmorEnabled() {
		return 0, errors.New("process.apparmorProfile: AppArmor is not enabled on this host")
	}
	o.Process.Env = processEnv(o.Process.Env, fmt.Sprintf("/proc/%d/root", st.InitPID), o.Process.UID)
	hc, err := hostCapabilities()
	if err != nil {
		return 0, err
	}
	_, userns := st.NamespacePaths[configs.NEWUSER]
	var filter *initplan.SeccompFilter
	if st.Config != nil {
		if filter, err = compileSeccomp(st.Config.Seccomp); err != nil {
			return 0, err
		}
	}
	paths, err := subCgroupPaths(st.CgroupPaths, o.SubCgroups)
	if err != nil {
		return 0, err
	}
	// The process joins the cgroup once forked, not stage 1 before it: a
	// container one pid short of pids.max can still be exec'd into, as
	// with runc. On cgroup v1 and hybrid hosts it joins by itself
	// (cgroups.ExecSelfJoin); elsewhere the parent moves it
	// (SyncJoinCgroup).
	rootless := st.Config != nil && st.Config.Rootless
	selfJoin, err := cgroups.ExecSelfJoin(paths, rootless)
	if err != nil {
		return 0, fmt.Errorf("join the container's cgroup: %w", err)
	}
	var cgroupDir *os.File
	if selfJoin != nil {
		cgroupDir = selfJoin.Unified
	}
	cg := cgroups.Load(paths)
	// The plan is queued on the socket before stage 1 starts (nothing
	// has to happen here before stage 1 goes on); it differs only in
	// who moves the process into the cgroup, which depends on whether
	// clone3 could put stage 1 in the unified one.
	var res *initplan.Result
	queue := func(born bool) (*initplan.Plan, error) {
		var v1Dirs []string
		// Without CLONE_INTO_CGROUP (old kernels) the parent moves it.
		if selfJoin != nil && (selfJoin.Unified == nil || born) {
			v1Dirs = selfJoin.V1Dirs
		}
		var err error
		res, err = initplan.BuildExec(o.Process, initplan.ExecOptions{
			Options: initplan.Options{
				PreserveFDs: o.PreserveFDs, SockFd: 3 + o.PreserveFDs, HostBounding: hc.bounding, LastCap: hc.last, CapByName: hc.byName,
				Rootless: rootless,
				Seccomp:  filter,
				SELinux:  o.Process.SelinuxLabel != "" && selinux.GetEnabled(),
				// The container's own keyring, found by name.
				SessionKeyring: execSessionKeyring(st),
			},
			NamespacePaths: st.NamespacePaths,
			UserNS:         userns,
			CgroupSelfJoin: v1Dirs,
		})
		if err != nil {
			return nil, err
		}
		return res.Plan, nil
	}
	p, err := startInit(o.PreserveFDs, nil, cgroupDir, queue, false)
	if cgroupDir != nil {
		cgroupDir.Close()
	}
	if err != nil {
		return 0, err
	}
	ok := false
	defer func() {
		if !ok {
			p.kill()
		}
	}()
	tr.mark(fmt.Sprintf("plan of %d steps queued, init started", len(res.Plan.Steps)))
	for _, w := range res.Warnings {
		logs.Warnf("%s", w)
	}
	pid := 0
	h := &initHandler{}
	h.onSync = func(tag uint32, sender int) error {
		if tag != initplan.SyncJoinCgroup {
			return fmt.Errorf("exec: unexpected sync %d", tag)
		}
		if err := cg.Apply(sender); err != nil {
			return fmt.Errorf("join the container's cgroup: %w", err)
		}
		tr.mark("cgroup joined")
		return nil
	}
	h.onPid = func(got int) error {
		pid = got
		if o.PidFile != "" {
			return writePidFile(o.PidFile, got)
		}
		return nil
	}
	h.onSeccompFd = func(fd *os.File, pid int) error {
		return sendSeccompListener(st.Config, st, pid, fd)
	}
	h.onConsole = func(master *os.File) error {
		if o.OnConsole != nil {
			return o.OnConsole(master)
		}
		defer master.Close()
		return sendConsole(o.ConsoleSocket, master)
	}
	if err := p.run(res.Plan, h); err != nil {
		return 0, err
	}
	tr.mark("init ran the plan")
	if tr.on {
		tr.detail("(" + p.stepSummary(res.Plan) + ")")
	}
	ok = true
	return pid, nil
}

// subCgroupPaths applies --cgroup: each named (or every) controller's
// path gets the sub-cgroup appended, which must exist inside the
// container's cgroup.
func subCgroupPaths(paths, sub map[string]string) (map[string]string, error) {
	if len(sub) == 0 {
		return paths, nil
	}
	out := make(map[string]string, len(paths))
	for ctrl, p := range paths {
		out[ctrl] = p
	}
	for ctrl, rel := range sub {
		clean := filepath.Clean("/" + rel)
		if clean == "/" || strings.Contains(rel, "..") {
			return nil, fmt.Errorf("--cgroup %q: must name a sub-cgroup of the container's", rel)
		}
		matched := false
		for c, p := range paths {
			if ctrl != "" && c != ctrl && !slices.Contains(strings.Split(c, ","), ctrl) {
				continue
			}
			dir := p + clean
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return nil, fmt.Errorf("--cgroup %s: %s is not an existing cgroup", rel, dir)
			}
			out[c] = dir
			matched = true
		}
		if !matched {
			return nil, fmt.Errorf("--cgroup %s:%s: the container has no %q cgroup", ctrl, rel, ctrl)
		}
	}
	return out, nil
}

// execSessionKeyring is the keyring an exec'd process joins: the
// container's, unless it was created with --no-new-keyring.
func execSessionKeyring(st *state.State) string {
	if st.Config == nil || st.Config.NoNewKeyring {
		return ""
	}
	return sessionKeyring(st.ID)
}
