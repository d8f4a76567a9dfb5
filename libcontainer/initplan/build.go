package initplan

import (
	"errors"
	"path"
	"sort"
	"strings"

	"github.com/opencontainers/selinux/go-selinux/label"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// Options are the facts the planner needs that are not in the config:
// they come from the parent's setup (fds it passes, the host).
type Options struct {
	// PreserveFDs is --preserve-fds: fds 3..3+N-1 reach the container.
	PreserveFDs int
	// FifoFd is the exec fifo's fd number in the init; SockFd the
	// socket's, the last fd skiff passes.
	FifoFd int
	SockFd int
	// Host capabilities: the bounding set of the runtime, and the last
	// capability the kernel knows.
	HostBounding uint64
	LastCap      uint32
	// CapByName maps "CAP_CHOWN" to its number.
	CapByName map[string]uint32
	// CgroupMounts are the binds that make up a "cgroup" mount on a
	// cgroup v1 host: container cgroup dir -> name under /sys/fs/cgroup.
	CgroupMounts []CgroupBind
	// CgroupV2 says the host has the unified hierarchy only.
	CgroupV2 bool
	// Rootless: skiff runs unprivileged.
	Rootless bool
	// Seccomp is the filter, compiled by the parent; nil for none.
	Seccomp *SeccompFilter
	// CgroupSync: the parent puts stage 1 in its cgroup while stage 1
	// creates the namespaces (SyncCgroupJoined), instead of before the
	// plan is sent; false when the init was born in its cgroup.
	CgroupSync bool
	// CgroupSelfJoin lists cgroup v1 directories that stage 1 joins by
	// itself (CgroupJoin): first thing, the cgroups made and their
	// limits set before the plan was sent; or, with
	// CgroupSelfJoinLate, once stage 1 has created its namespaces.
	CgroupSelfJoin []string
	// InitBornInPidNS: the process the parent starts is already PID 1
	// of the container's new pid namespace (InitBornInPidNamespace),
	// and carries out the whole plan itself: no fork.
	InitBornInPidNS bool
	// CgroupSelfJoinLate: the parent makes the cgroups and sets their
	// limits while stage 1 creates the namespaces, then answers
	// SyncCgroupMade; stage 1 joins and forks the init after that.
	// Only where LateCgroupJoinAllowed.
	CgroupSelfJoinLate bool
	// SessionKeyring names the container's session keyring
	// ("_ses.<id>", as runc names it); "" keeps the caller's
	// (--no-new-keyring).
	SessionKeyring string
	// SELinux: the host enforces or permits SELinux, so process labels
	// and linux.mountLabel are applied (without it they are ignored, as
	// runc does).
	SELinux bool
}

// SeccompFilter is a compiled seccomp program.
type SeccompFilter struct {
	Filter []byte
	Flags  uint32
	// Listener: the filter has notify rules; loading it yields a fd that
	// must reach the parent while it listens.
	Listener bool
}

// Where the seccomp filter is loaded. As late as possible, so nothing of
// skiff's own runs under it; but without no_new_privs loading needs
// CAP_SYS_ADMIN, so it comes before the capabilities are dropped, and
// a notify listener must be handed over before the parent leaves.
const (
	seccompNone = iota
	seccompBeforeCaps
	seccompBeforeReady
	seccompLast
)

func seccompPlace(p *configs.Process, o Options) int {
	switch {
	case o.Seccomp == nil:
		return seccompNone
	case !p.NoNewPrivileges:
		return seccompBeforeCaps
	case o.Seccomp.Listener:
		return seccompBeforeReady
	}
	return seccompLast
}

func seccompStep(f *SeccompFilter) Seccomp {
	return Seccomp{Flags: f.Flags, Filter: f.Filter}
}

// CgroupBind is one controller hierarchy shown in the container.
type CgroupBind struct {
	Source string // host cgroup directory of the container
	Name   string // "memory", "cpu,cpuacct", ...
	Links  []string
}

// Result is a plan plus the warnings the planning produced (capabilities
// the host cannot grant, for example), for the caller to log.
type Result struct {
	Plan     *Plan
	Warnings []string
}

var nsFlags = map[configs.NamespaceType]uint32{
	configs.NEWNS:     unix.CLONE_NEWNS,
	configs.NEWUTS:    unix.CLONE_NEWUTS,
	configs.NEWIPC:    unix.CLONE_NEWIPC,
	configs.NEWUSER:   unix.CLONE_NEWUSER,
	configs.NEWPID:    unix.CLONE_NEWPID,
	configs.NEWNET:    unix.CLONE_NEWNET,
	configs.NEWCGROUP: unix.CLONE_NEWCGROUP,
	configs.NEWTIME:   unix.CLONE_NEWTIME,
}

// NamespaceFlag returns the CLONE_NEW* flag of t.
func NamespaceFlag(t configs.NamespaceType) uint32 { return nsFlags[t] }

var devSymlinks = [][2]string{
	{"/proc/self/fd", "/dev/fd"},
	{"/proc/self/fd/0", "/dev/stdin"},
	{"/proc/self/fd/1", "/dev/stdout"},
	{"/proc/self/fd/2", "/dev/stderr"},
}

// Build makes the init plan of a new container. It is a pure function.
func Build(cfg *configs.Config, o Options) (*Result, error) {
	r := &Result{Plan: &Plan{}}
	add := func(s Step) { r.Plan.Steps = append(r.Plan.Steps, s) }

	// The cgroup is joined before stage 1 forks the init and makes the
	// cgroup namespace, which is rooted where its maker is.
	var cgroupSteps []Step
	switch {
	case o.CgroupSelfJoinLate:
		if !LateCgroupJoinAllowed(cfg) {
			return nil, errors.New("init plan: a late cgroup self-join with a user namespace or a joined mount namespace")
		}
		cgroupSteps = append(cgroupSteps, Sync{Tag: SyncCgroupMade})
		for _, dir := range o.CgroupSelfJoin {
			cgroupSteps = append(cgroupSteps, CgroupJoin{Dir: dir})
		}
	case o.CgroupSync:
		cgroupSteps = append(cgroupSteps, Sync{Tag: SyncCgroupJoined})
	default:
		// Before any namespace: joined or new, a user namespace would
		// take away the right to write the host's cgroup files.
		for _, dir := range o.CgroupSelfJoin {
			add(CgroupJoin{Dir: dir})
		}
	}
	if o.InitBornInPidNS && !InitBornInPidNamespace(cfg) {
		return nil, errors.New("init plan: an init born in its pid namespace without a new pid namespace, or with a user or time namespace")
	}
	planNamespaces(cfg, cgroupSteps, o.InitBornInPidNS, add)
	add(Setsid{})
	if o.SessionKeyring != "" {
		// A new keyring needs search permission for whoever joins it
		// later by name (exec): its owner, or with a user namespace
		// "other" (runc's rule).
		search := uint32(keyUserSearch)
		if cfg.HasNamespace(configs.NEWUSER) {
			search = keyOtherSearch
		}
		add(SessionKeyring{Name: o.SessionKeyring, SearchPerm: search, Label: keyLabel(&cfg.Process, o)})
	}
	if cfg.HasNamespace(configs.NEWNS) {
		planRootfs(cfg, o, add)
	} else {
		// The container shares the host's mount namespace: a mount made
		// for it would be the host's (and outlive it). Only chroot.
		r.Warnings = append(r.Warnings, noMountNamespaceWarnings(cfg)...)
		planCreateHooks(cfg, add)
		add(Chroot{Path: cfg.Rootfs})
		planCwdCreate(cfg, add)
		for _, k := range sortedKeys(cfg.Sysctl) {
			add(Sysctl{Key: sysctlPath(k), Value: cfg.Sysctl[k]})
		}
	}
	if cfg.Hostname != "" {
		add(Hostname{Name: cfg.Hostname})
	}
	if cfg.Domainname != "" {
		add(Domainname{Name: cfg.Domainname})
	}
	if cfg.Process.Terminal {
		add(Console{Rows: uint32(cfg.Process.ConsoleHeight), Cols: uint32(cfg.Process.ConsoleWidth)})
	}
	if err := planProcess(cfg, o, r, add); err != nil {
		return nil, err
	}
	place := seccompPlace(&cfg.Process, o)
	if place == seccompBeforeReady {
		add(seccompStep(o.Seccomp))
	}
	add(WaitExecFifo{Fd: uint32(o.FifoFd)})
	if place == seccompLast {
		add(seccompStep(o.Seccomp))
	}
	add(Exec{Args: cfg.Process.Args, Env: cfg.Process.Env})
	return r, nil
}

// planRootfs makes the container's filesystem in its mount namespace:
// mounts, /dev, pivot_root, sysctls (through procfs), read-only and
// masked paths.
func planRootfs(cfg *configs.Config, o Options, add func(Step)) {
	// Nothing the init mounts or unmounts may reach the host: "/" is made
	// a recursive slave first. pivot_root refuses shared mounts and an
	// unbindable "/" cannot be bound, so those two are applied to the new
	// root after the pivot; private and slave right away.
	props := []uint64{unix.MS_SLAVE | unix.MS_REC}
	prop, after := cfg.RootPropagation, uint64(0)
	if prop&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0 {
		prop, after = 0, prop
	}
	if prop != 0 && prop != props[0] {
		props = append(props, prop)
	}
	add(Rootfs{Propagation: props, Path: cfg.Rootfs})
	planMounts(cfg, o, add)
	planCreateHooks(cfg, add)
	add(PivotRoot{NoPivot: cfg.NoPivotRoot})
	planCwdCreate(cfg, add)
	if after != 0 {
		add(MountSetattr{Dest: "/", Propagation: after &^ unix.MS_REC, Recursive: after&unix.MS_REC != 0})
	}
	for _, k := range sortedKeys(cfg.Sysctl) {
		add(Sysctl{Key: sysctlPath(k), Value: cfg.Sysctl[k]})
	}
	for _, p := range cfg.ReadonlyPaths {
		add(ReadonlyPath{Path: p})
	}
	for _, p := range cfg.MaskedPaths {
		add(MaskPath{Path: p})
	}
	if cfg.RootReadonly {
		add(RootReadonly{})
	}
}

// planCwdCreate makes a missing process.cwd, as runc does, while the
// root is still writable and the init still root.
func planCwdCreate(cfg *configs.Config, add func(Step)) {
	if cwd := cfg.Process.Cwd; cwd != "" && cwd != "/" {
		add(Cwd{Dir: cwd, Create: true})
	}
}

func planCreateHooks(cfg *configs.Config, add func(Step)) {
	if hooksWanted(cfg, SyncCreateRuntime) {
		add(Sync{Tag: SyncCreateRuntime})
	}
	if hooksWanted(cfg, SyncCreateContainer) {
		add(Sync{Tag: SyncCreateContainer})
	}
}

func noMountNamespaceWarnings(cfg *configs.Config) []string {
	var w []string
	for field, n := range map[string]int{
		"mounts": len(cfg.Mounts), "linux.devices": len(cfg.Devices),
		"linux.maskedPaths": len(cfg.MaskedPaths), "linux.readonlyPaths": len(cfg.ReadonlyPaths),
	} {
		if n > 0 {
			w = append(w, field+": not applied: the container has no mount namespace of its own")
		}
	}
	if cfg.RootReadonly {
		w = append(w, "root.readonly: not applied: the container has no mount namespace of its own")
	}
	sort.Strings(w)
	return w
}

// planNamespaces joins the namespaces given by path, then creates the new
// ones, then forks the init. The user namespace is joined first, so the
// others are joined with its privileges, and the mount namespace last,
// since it changes how the remaining paths resolve. cgroupSteps, if
// any, come after the namespaces and before the cgroup namespace.
// bornInPidNS: the process was started in its new pid namespace and is
// the init already; it neither creates that namespace nor forks.
func planNamespaces(cfg *configs.Config, cgroupSteps []Step, bornInPidNS bool, add func(Step)) {
	var unshare uint32
	for _, ns := range cfg.Namespaces {
		if ns.Path == "" {
			unshare |= nsFlags[ns.Type]
		}
	}
	forkInit := func() {
		if !bornInPidNS {
			add(ForkInit{})
		}
	}
	if bornInPidNS {
		unshare &^= unix.CLONE_NEWPID
	}
	for _, ns := range joinOrder(cfg.Namespaces) {
		add(NSJoin{Type: nsFlags[ns.Type], Path: ns.Path})
	}
	if len(cgroupSteps) == 0 {
		if unshare != 0 {
			add(NSUnshare{Flags: unshare})
		}
		forkInit()
		return
	}
	// A cgroup namespace is rooted at the cgroup its creator is in: it
	// is made once stage 1 is in the container's cgroup.
	if rest := unshare &^ unix.CLONE_NEWCGROUP; rest != 0 {
		add(NSUnshare{Flags: rest})
	}
	for _, s := range cgroupSteps {
		add(s)
	}
	if unshare&unix.CLONE_NEWCGROUP != 0 {
		add(NSUnshare{Flags: unix.CLONE_NEWCGROUP})
	}
	forkInit()
}

// InitBornInPidNamespace says whether the parent can start the init as
// PID 1 of the container's new pid namespace (CLONE_NEWPID at clone
// time), so that no stage forks it: one process less to fork, run and
// reap per container, ~1 ms of CPU where page tables are virtualised in
// software (the forked init copies every page it writes). Not with a
// user namespace, new or joined: the pid namespace must be created in
// it, after it, to belong to it (mounting /proc needs that). Not with a
// time namespace: its offsets are written before a process enters it,
// and what creates or joins one moves only its children into it.
func InitBornInPidNamespace(cfg *configs.Config) bool {
	return cfg.HasNamespace(configs.NEWPID) && cfg.NamespacePath(configs.NEWPID) == "" &&
		!cfg.HasNamespace(configs.NEWUSER) && !cfg.HasNamespace(configs.NEWTIME)
}

// LateCgroupJoinAllowed says whether stage 1 may create its namespaces
// before it joins its v1 cgroups by itself (Options.CgroupSelfJoinLate):
// only where it can still open the host's cgroup files afterwards, so
// with no user namespace (new or joined, it takes away the right to
// write them) and no mount namespace joined by path (the paths would
// resolve in it). The namespaces' kernel memory is then charged to the
// caller's memory cgroup, not the container's; the container's init is
// still forked inside every cgroup.
func LateCgroupJoinAllowed(cfg *configs.Config) bool {
	return !cfg.HasNamespace(configs.NEWUSER) && cfg.NamespacePath(configs.NEWNS) == ""
}

// joinOrder returns the namespaces to join by path: user, the others in
// config order, mount.
func joinOrder(nss []configs.Namespace) []configs.Namespace {
	var first, middle, last []configs.Namespace
	for _, ns := range nss {
		switch {
		case ns.Path == "":
		case ns.Type == configs.NEWUSER:
			first = append(first, ns)
		case ns.Type == configs.NEWNS:
			last = append(last, ns)
		default:
			middle = append(middle, ns)
		}
	}
	return append(append(first, middle...), last...)
}

func hooksWanted(cfg *configs.Config, tag uint32) bool {
	h := cfg.Hooks
	if h == nil {
		return false
	}
	switch tag {
	case SyncCreateRuntime:
		return len(h.Prestart) > 0 || len(h.CreateRuntime) > 0 //nolint:staticcheck // prestart is deprecated but still run
	case SyncCreateContainer:
		return len(h.CreateContainer) > 0
	}
	return false
}

// planMounts adds config.json's mounts, then /dev's devices and links
// unless /dev comes from the host.
func planMounts(cfg *configs.Config, o Options, add func(Step)) {
	devBound := false
	for _, m := range cfg.Mounts {
		if m.Destination == "/dev" && m.Bind {
			devBound = true
		}
		switch {
		case m.Type == "cgroup" || m.Type == "cgroup2":
			planCgroupMount(m, cfg, o, add)
		case m.Bind:
			set, clr := mountAttrs(m.Flags, m.ClearFlags)
			add(MountBind{
				Source: m.Source, Dest: m.Destination, Recursive: m.Flags&unix.MS_REC != 0,
				AttrSet: set, AttrClear: clr,
				RecAttrSet: m.RecAttrSet, RecAttrClear: m.RecAttrClear,
			})
		default:
			set, _ := mountAttrs(m.Flags, 0)
			m.Data = labelData(m.Type, m.Data, cfg, o)
			add(MountFS{
				FSType: m.Type, Source: m.Source, Dest: m.Destination,
				AttrSet: set, Params: fsParams(m),
				DestNoSymlinks: m.Type == "proc" || m.Type == "sysfs",
			})
		}
		for _, p := range m.Propagation {
			add(MountSetattr{Dest: m.Destination, Propagation: p &^ unix.MS_REC, Recursive: p&unix.MS_REC != 0})
		}
	}
	if devBound {
		return
	}
	userns := cfg.HasNamespace(configs.NEWUSER)
	seen := map[string]bool{}
	for _, d := range cfg.Devices {
		seen[d.Path] = true
		add(deviceStep(d, userns))
	}
	for _, l := range devSymlinks {
		add(Symlink{Target: l[0], Link: l[1]})
	}
	if hasMountAt(cfg, "/dev/pts") && !seen["/dev/ptmx"] {
		add(Symlink{Target: "pts/ptmx", Link: "/dev/ptmx"})
	}
}

func hasMountAt(cfg *configs.Config, dest string) bool {
	for _, m := range cfg.Mounts {
		if m.Destination == dest {
			return true
		}
	}
	return false
}

func deviceStep(d configs.Device, userns bool) Device {
	mode := d.FileMode & 0o7777
	if mode == 0 {
		mode = 0o666
	}
	switch d.Type {
	case 'c', 'u':
		mode |= unix.S_IFCHR
	case 'b':
		mode |= unix.S_IFBLK
	case 'p':
		mode |= unix.S_IFIFO
	}
	return Device{
		Path: d.Path, Mode: mode, Major: uint32(d.Major), Minor: uint32(d.Minor),
		UID: d.UID, GID: d.GID,
		// mknod is denied in a user namespace: show the host's node.
		Bind: userns,
	}
}

// planCgroupMount shows the container its own cgroups: a cgroup2 mount
// on a unified host, or on v1 a tmpfs with each controller's directory
// bound in.
func planCgroupMount(m configs.Mount, cfg *configs.Config, o Options, add func(Step)) {
	set, _ := mountAttrs(m.Flags, 0)
	if o.CgroupV2 {
		add(MountFS{FSType: "cgroup2", Source: "cgroup", Dest: m.Destination, AttrSet: set})
		return
	}
	add(MountFS{
		FSType: "tmpfs", Source: "tmpfs", Dest: m.Destination,
		AttrSet: set &^ unix.MOUNT_ATTR_RDONLY,
		Params:  fsParams(configs.Mount{Data: labelData("tmpfs", "mode=755", cfg, o)}),
	})
	for _, b := range o.CgroupMounts {
		dest := path.Join(m.Destination, b.Name)
		add(MountBind{Source: b.Source, Dest: dest, AttrSet: set | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC})
		for _, l := range b.Links {
			add(Symlink{Target: b.Name, Link: path.Join(m.Destination, l)})
		}
	}
	if set&unix.MOUNT_ATTR_RDONLY != 0 {
		add(MountSetattr{Dest: m.Destination, AttrSet: unix.MOUNT_ATTR_RDONLY})
	}
}

// mountAttrs converts MS_* flags to MOUNT_ATTR_* set and clear masks.
func mountAttrs(flags, clear uint64) (set, clr uint64) {
	pairs := []struct{ ms, attr uint64 }{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
		{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
		{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
		{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
		{unix.MS_NOSYMFOLLOW, unix.MOUNT_ATTR_NOSYMFOLLOW},
	}
	for _, p := range pairs {
		if flags&p.ms != 0 {
			set |= p.attr
		}
		if clear&p.ms != 0 {
			clr |= p.attr
		}
	}
	// Access-time modes are one field: setting one clears the others.
	switch {
	case flags&unix.MS_STRICTATIME != 0:
		set |= unix.MOUNT_ATTR_STRICTATIME
		clr |= unix.MOUNT_ATTR__ATIME
	case flags&unix.MS_NOATIME != 0:
		set |= unix.MOUNT_ATTR_NOATIME
		clr |= unix.MOUNT_ATTR__ATIME
	case flags&unix.MS_RELATIME != 0:
		set |= unix.MOUNT_ATTR_RELATIME
		clr |= unix.MOUNT_ATTR__ATIME
	}
	return set, clr
}

// labelData is the data of a filesystem of type fstype that skiff
// creates, with linux.mountLabel added as runc adds it
// (label.FormatMountLabel: `context="LABEL"`) where the host runs
// SELinux, to the mounts runc labels: all but proc and sysfs (SELinux
// cannot label them), mqueue (runc mounts it unlabelled and labels the
// directory instead) and cgroup2 (mounted with the config's data as it
// is). Bind mounts take no data and are never passed here. Without
// SELinux the data is unchanged: runc's FormatMountLabel returns it as
// is when SELinux is disabled.
func labelData(fstype, data string, cfg *configs.Config, o Options) string {
	if !o.SELinux || cfg.MountLabel == "" {
		return data
	}
	switch fstype {
	case "proc", "sysfs", "mqueue", "cgroup2":
		return data
	}
	return label.FormatMountLabel(data, cfg.MountLabel)
}

// selinuxContextOptions are the SELinux mount options. mount(2) takes
// their values quoted (a label has commas: "s0:c1,c2") and the kernel
// strips the quotes while it splits the options; fsconfig() gets each
// value alone, unquoted.
var selinuxContextOptions = map[string]bool{"context": true, "fscontext": true, "defcontext": true, "rootcontext": true}

// splitOptions splits mount data at the commas that are outside double
// quotes.
func splitOptions(data string) []string {
	var opts []string
	quoted, start := false, 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				opts = append(opts, data[start:i])
				start = i + 1
			}
		}
	}
	return append(opts, data[start:])
}

// fsParams turns the filesystem's options and its superblock flags into
// fsconfig() parameters.
func fsParams(m configs.Mount) []FSParam {
	var ps []FSParam
	sbFlags := []struct {
		ms   uint64
		name string
	}{
		{unix.MS_SYNCHRONOUS, "sync"},
		{unix.MS_DIRSYNC, "dirsync"},
		{unix.MS_LAZYTIME, "lazytime"},
		{unix.MS_MANDLOCK, "mand"},
	}
	for _, f := range sbFlags {
		if m.Flags&f.ms != 0 {
			ps = append(ps, FSParam{Key: f.name, Flag: true})
		}
	}
	for _, opt := range splitOptions(m.Data) {
		if opt == "" {
			continue
		}
		if k, v, ok := strings.Cut(opt, "="); ok {
			if selinuxContextOptions[k] {
				v = strings.ReplaceAll(v, `"`, "")
			}
			ps = append(ps, FSParam{Key: k, Value: v})
		} else {
			ps = append(ps, FSParam{Key: opt, Flag: true})
		}
	}
	return ps
}

// sysctlPath turns "net.ipv4.conf.eth0/100.rp_filter" into the path
// under /proc/sys: dots are separators, slashes were dots in a name.
func sysctlPath(key string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, key)
}

// Key permission bits (linux/keyctl.h): search by the key's user, and
// by others.
const (
	keyUserSearch  = 0x00080000
	keyOtherSearch = 0x00000008
)

// keyLabel is the SELinux label of the session keyring: the process's,
// where the host runs SELinux (runc's selinux.SetKeyLabel).
func keyLabel(p *configs.Process, o Options) string {
	if !o.SELinux {
		return ""
	}
	return p.SelinuxLabel
}
