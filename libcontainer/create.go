// Package libcontainer is skiff's engine: it creates containers from a
// validated config, keeps their state, and starts, signals and removes
// them. The container's init itself is C (libcontainer/nsenter) carrying
// out a plan made here (libcontainer/initplan).
package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/selinux/go-selinux"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/initplan"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/state"
	"github.com/skiff-runtime/skiff/specconv"
)

// CreateOptions are `skiff create`'s inputs.
type CreateOptions struct {
	ID, Bundle, StateRoot string

	NoPivot, NoNewKeyring, SystemdCgroup, Rootless bool

	ConsoleSocket, PidFile string
	PreserveFDs            int
	// ListenFDs: how many of the first PreserveFDs are socket-activation
	// fds (LISTEN_FDS); the container's process is told about them.
	ListenFDs int

	// OnConsole, if set, takes the pty master of a container with a
	// terminal instead of the console socket (`run` in the foreground).
	OnConsole func(master *os.File) error
}

// Create makes the container and returns once its init waits on the
// exec fifo and state.json is saved. On failure nothing is left: no
// state dir, cgroup, mount or process.
func Create(opts *CreateOptions) (*state.State, error) {
	tr := newTrace("create " + opts.ID)
	defer tr.done()
	if err := specconv.ValidateID(opts.ID); err != nil {
		return nil, err
	}
	PrepareInitExe()
	bundle, err := filepath.Abs(opts.Bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	spec, err := specconv.LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	cfg, err := specconv.ToConfig(spec, bundle, specconv.Options{
		NoPivotRoot: opts.NoPivot, NoNewKeyring: opts.NoNewKeyring, Rootless: opts.Rootless,
	})
	if err != nil {
		return nil, err
	}
	if cfg.Process.Terminal && opts.ConsoleSocket == "" && opts.OnConsole == nil {
		return nil, errors.New("cannot allocate tty if runc will detach without setting console socket")
	}
	if !cfg.Process.Terminal && opts.ConsoleSocket != "" {
		return nil, errors.New("cannot use console socket if runc will not detach or allocate tty")
	}
	if cfg.Process.ApparmorProfile != "" && !apparmorEnabled() {
		// runc's rule: a profile that cannot be applied is an error.
		return nil, errors.New("process.apparmorProfile: AppArmor is not enabled on this host")
	}
	for i, m := range cfg.Mounts {
		if m.IDMapped {
			return nil, fmt.Errorf("mounts[%d].options: idmapped mounts are not supported yet", i)
		}
		if m.CopyUp {
			return nil, fmt.Errorf("mounts[%d].options: tmpcopyup is not supported yet", i)
		}
	}
	tr.mark("config")

	dir, err := state.CreateDir(opts.StateRoot, opts.ID)
	if err != nil {
		return nil, err
	}
	tr.mark("state dir")
	addListenFDsEnv(&cfg.Process, opts.ListenFDs)
	cfg.Process.Env = processEnv(cfg.Process.Env, cfg.Rootfs, cfg.Process.UID)
	c := &creation{opts: opts, cfg: cfg, dir: dir, bundle: bundle, trace: tr}
	if c.notify = hostNotifySocket(); c.notify != "" {
		if err := setupNotify(cfg, dir); err != nil {
			c.undo()
			return nil, err
		}
	}
	st, err := c.run()
	if err != nil {
		c.undo()
		return nil, err
	}
	return st, nil
}

// creation holds what a create made so far, so undo can remove it.
type creation struct {
	opts   *CreateOptions
	cfg    *configs.Config
	dir    string
	bundle string
	trace  *trace
	cg     cgroups.Manager
	init   *initProcess
	notify string // the caller's NOTIFY_SOCKET, relayed by start
	// selfJoined: stage 1 joins its v1 cgroups itself (CgroupJoin);
	// limitsSet: the limits are written already.
	selfJoined bool
	limitsSet  bool
}

func (c *creation) run() (*state.State, error) {
	unlock, err := state.Lock(c.opts.StateRoot, c.opts.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()

	fifoPath := filepath.Join(c.dir, state.ExecFifo)
	if err := unix.Mkfifo(fifoPath, 0o622); err != nil {
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}
	// mkfifo applies the umask; the init may run as any user.
	if err := os.Chmod(fifoPath, 0o622); err != nil {
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}
	// Read-write: the init blocks reading it until `start` writes, and a
	// read-write open of a fifo never blocks.
	fifo, err := os.OpenFile(fifoPath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifo.Close()
	c.trace.mark("exec fifo")

	c.cg, err = cgroups.New(c.opts.ID, c.cfg, c.opts.SystemdCgroup, c.opts.Rootless)
	if err != nil {
		return nil, err
	}
	c.trace.mark("cgroup manager")

	cgroupDir, err := c.cg.CloneTarget()
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	// On cgroup v1 and hybrid hosts stage 1 joins the cgroup itself
	// (cgroups.SelfJoin) when it runs its plan: the cgroup is made and
	// its limits set meanwhile, while the init starts.
	var selfJoin *cgroups.SelfJoin
	if cgroupDir == nil {
		if selfJoin, err = c.cg.SelfJoin(); err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
		if selfJoin != nil {
			cgroupDir = selfJoin.Unified
		}
	}
	bornInPidNS := initplan.InitBornInPidNamespace(c.cfg)
	c.init, err = startInit(c.opts.PreserveFDs, []*os.File{fifo}, cgroupDir, nil, bornInPidNS)
	if cgroupDir != nil {
		cgroupDir.Close()
	}
	if err != nil {
		return nil, err
	}
	c.trace.mark("init started")
	// Stage 1 joins by itself wherever it can. Where it may, it creates
	// its namespaces first, while the parent makes the cgroups (late):
	// both take a few hundred microseconds of kernel work and overlap.
	lateJoin := false
	if selfJoin != nil {
		c.selfJoined = selfJoin.Unified == nil || c.init.bornInCgroup
		lateJoin = c.selfJoined && initplan.LateCgroupJoinAllowed(c.cfg)
	}
	if selfJoin != nil && !lateJoin {
		if err := c.cg.Apply(-1); err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
		if err := c.setCgroupLimits(); err != nil {
			return nil, err
		}
		c.trace.mark("cgroup made, limits set")
	}

	// fds in the init: 0-2 stdio, 3.. --preserve-fds, the fifo, the
	// socket.
	fifoFd := 3 + c.opts.PreserveFDs
	hostCaps, err := hostCapabilities()
	if err != nil {
		return nil, err
	}
	po := initplan.Options{
		PreserveFDs:  c.opts.PreserveFDs,
		FifoFd:       fifoFd,
		SockFd:       fifoFd + 1,
		HostBounding: hostCaps.bounding,
		LastCap:      hostCaps.last,
		CapByName:    hostCaps.byName,
		Rootless:     c.opts.Rootless,
		// Asked only when there is a label to apply: the answer costs a
		// statfs and a read of /proc/filesystems where SELinux is absent.
		SELinux: (c.cfg.Process.SelinuxLabel != "" || c.cfg.MountLabel != "") && selinux.GetEnabled(),
	}
	if !c.cfg.NoNewKeyring {
		po.SessionKeyring = sessionKeyring(c.opts.ID)
	}
	if po.Seccomp, err = compileSeccomp(c.cfg.Seccomp); err != nil {
		return nil, err
	}
	po.InitBornInPidNS = bornInPidNS
	if c.selfJoined {
		po.CgroupSelfJoin = selfJoin.V1Dirs
		po.CgroupSelfJoinLate = lateJoin
	}
	c.trace.mark("caps, selinux, seccomp")
	// Where stage 1 is in neither way in its cgroup yet and the
	// cgroup's paths are known before it is made (all but systemd's v1
	// driver), the parent joins stage 1 to it while stage 1 creates the
	// namespaces: v1's cgroup.procs writes wait for RCU grace periods,
	// and so does namespace creation. Stage 1 waits for it before it
	// makes the cgroup namespace and forks the init (SyncCgroupJoined).
	// A self-joined stage 1 waits only if the parent still has its
	// oom_score_adj to write.
	inCgroup := c.init.bornInCgroup || c.selfJoined
	overlap := !lateJoin && ((!inCgroup && len(c.cg.Paths()) > 0) || (c.selfJoined && c.cfg.Process.OOMScoreAdj != nil))
	if !overlap && !lateJoin {
		if err := c.joinCgroup(); err != nil {
			return nil, err
		}
	}
	po.CgroupSync = overlap
	po.CgroupMounts, po.CgroupV2 = cgroupMounts(c.cg.Paths())
	res, err := initplan.Build(c.cfg, po)
	if err != nil {
		return nil, err
	}
	for _, w := range res.Warnings {
		logs.Warnf("%s", w)
	}
	c.trace.mark(fmt.Sprintf("plan of %d steps", len(res.Plan.Steps)))

	st := &state.State{
		ID:           c.opts.ID,
		Bundle:       c.bundle,
		Rootfs:       c.cfg.Rootfs,
		Created:      time.Now().UTC(),
		Owner:        "",
		CgroupPaths:  c.cg.Paths(),
		Config:       c.cfg,
		NotifySocket: c.notify,
		NoHooks:      !hasHooks(c.cfg.Hooks),
		OwnPidNS:     ownPidNamespace(c.cfg),
	}
	h := &initHandler{cfg: c.cfg}
	switch {
	case lateJoin:
		h.afterSend = c.makeCgroup
	case overlap:
		h.afterSend = c.joinCgroup
	}
	h.onSync = func(tag uint32, pid int) error {
		if tag == initplan.SyncCgroupJoined || tag == initplan.SyncCgroupMade {
			return nil // afterSend did it before any frame was read
		}
		return runCreateHooks(c.cfg, st, tag, pid)
	}
	h.onSeccompFd = func(fd *os.File, pid int) error {
		return sendSeccompListener(c.cfg, st, pid, fd)
	}
	h.onConsole = func(master *os.File) error {
		if c.opts.OnConsole != nil {
			return c.opts.OnConsole(master)
		}
		defer master.Close()
		return sendConsole(c.opts.ConsoleSocket, master)
	}
	h.onReady = func(pid int) error {
		st.InitPID = pid
		t, err := state.StartTime(pid)
		if err != nil {
			return fmt.Errorf("init process: %w", err)
		}
		st.InitStartTime = t
		st.NamespacePaths = namespacePaths(c.cfg, pid)
		c.trace.mark("init ran the plan")
		if c.trace.on {
			c.trace.detail("(" + c.init.stepSummary(res.Plan) + ")")
		}
		if err := state.Save(c.opts.StateRoot, st); err != nil {
			return err
		}
		c.trace.mark("state saved")
		if c.opts.PidFile != "" {
			return writePidFile(c.opts.PidFile, pid)
		}
		return nil
	}
	if err := c.init.run(res.Plan, h); err != nil {
		return nil, err
	}
	return st, nil
}

// makeCgroup makes the cgroup that stage 1 joins by itself once it has
// created its namespaces (SyncCgroupMade), and sets its limits.
func (c *creation) makeCgroup() error {
	if err := c.cg.Apply(-1); err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	c.trace.mark("cgroup made")
	return c.joinCgroup()
}

// joinCgroup puts stage 1 in the container's cgroup (unless it was
// born there or joins by itself), writes the limits (unless written
// already) and stage 1's oom_score_adj, all of which the init inherits
// when stage 1 forks it.
func (c *creation) joinCgroup() error {
	if !c.init.bornInCgroup && !c.selfJoined {
		if err := c.cg.Apply(c.init.stage1Pid()); err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		c.trace.mark("cgroup joined")
	}
	if !c.limitsSet {
		if err := c.setCgroupLimits(); err != nil {
			return err
		}
		c.trace.mark("cgroup limits")
	}
	if c.cfg.Process.OOMScoreAdj != nil {
		if err := writeProcFile(c.init.stage1Pid(), "oom_score_adj", strconv.Itoa(*c.cfg.Process.OOMScoreAdj)); err != nil {
			return err
		}
	}
	return nil
}

// setCgroupLimits writes the limits; a limit this host cannot apply is
// an error naming the field, not a container that silently runs without
// it.
func (c *creation) setCgroupLimits() error {
	warnings, err := cgroups.CheckCreate(c.cg.Paths(), c.cfg.Resources)
	for _, w := range warnings {
		logs.Warnf("%s", w)
	}
	if err != nil {
		return err
	}
	if err := c.cg.Set(c.cfg.Resources); err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	c.limitsSet = true
	return nil
}

// undo removes everything a failed create made.
func (c *creation) undo() {
	if c.init != nil {
		c.init.kill()
	}
	if c.cg != nil {
		if err := c.cg.Destroy(); err != nil {
			logs.Warnf("remove cgroup of %s: %v", c.opts.ID, err)
		}
	}
	if c.opts.PidFile != "" {
		_ = os.Remove(c.opts.PidFile)
	}
	if err := state.Remove(c.opts.StateRoot, c.opts.ID); err != nil {
		logs.Warnf("remove state of %s: %v", c.opts.ID, err)
	}
}

// namespacePaths records where exec finds each namespace of the init.
func namespacePaths(cfg *configs.Config, pid int) map[configs.NamespaceType]string {
	names := map[configs.NamespaceType]string{
		configs.NEWNS: "mnt", configs.NEWUTS: "uts", configs.NEWIPC: "ipc", configs.NEWUSER: "user",
		configs.NEWPID: "pid", configs.NEWNET: "net", configs.NEWCGROUP: "cgroup", configs.NEWTIME: "time",
	}
	paths := make(map[configs.NamespaceType]string, len(cfg.Namespaces))
	for _, ns := range cfg.Namespaces {
		paths[ns.Type] = fmt.Sprintf("/proc/%d/ns/%s", pid, names[ns.Type])
	}
	return paths
}

// writePidFile writes pid atomically, as engines read it at any time.
func writePidFile(path string, pid int) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

// apparmorEnabled reads the kernel's own answer; there is no AppArmor
// support in skiff beyond refusing a profile it could not apply.
func apparmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && len(b) > 0 && b[0] == 'Y'
}

// sessionKeyring names a container's session keyring as runc does, so
// that tools looking for "_ses.<id>" find it.
func sessionKeyring(id string) string { return "_ses." + id }

// hasHooks reports whether any hook list is non-empty.
func hasHooks(h *specs.Hooks) bool {
	return h != nil && len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer)+ //nolint:staticcheck // Prestart is deprecated, still run
		len(h.StartContainer)+len(h.Poststart)+len(h.Poststop) > 0
}
