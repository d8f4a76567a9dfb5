package initplan

import "fmt"

// Step is one record of the plan. String() says what the step does, for
// errors ("step 7 (mount proc on /proc): ...") and for --debug traces.
type Step interface {
	encode(e *encoder)
	String() string
}

// Plan is the whole bootstrap: stage-1 namespace records, then the init's
// steps.
type Plan struct {
	Steps []Step
}

// NSJoin joins the namespace at Path (CLONE_NEW* in Type).
type NSJoin struct {
	Type uint32
	Path string
}

// CgroupJoin moves stage 1 into the cgroup v1 directory Dir by writing
// "0" (itself) to its tasks file, before stage 1 enters any namespace. Moving one's own single thread takes no global lock in
// the kernel; the parent writing stage 1's pid to cgroup.procs takes
// cgroup_threadgroup_rwsem for writing, which waits for an RCU grace
// period (1-25 ms measured here) on every create. With Later, stage 1
// only opens the file (while the host's paths and rights are still its
// own) and the process it forks joins with CgroupJoinKept (exec).
type CgroupJoin struct {
	Dir   string
	Later bool
}

// CgroupJoinKept writes "0" to every file CgroupJoin opened with Later.
type CgroupJoinKept struct{}

// NSUnshare creates namespaces. A user namespace in Flags is created
// first, alone, and the parent writes its maps before the rest.
type NSUnshare struct{ Flags uint32 }

// ForkInit forks the init: PID 1 of a new pid namespace.
type ForkInit struct{}

type Setsid struct{}

// Rootfs sets the propagation of "/" and bind-mounts the root filesystem
// onto itself; later paths resolve inside it.
type Rootfs struct {
	Propagation []uint64 // MS_* (with MS_REC) applied to "/" in order
	Path        string
}

// MountBind clones Source (a host path) and attaches it at Dest (inside
// the rootfs). AttrSet/AttrClear are MOUNT_ATTR_* for the top mount,
// RecAttrSet/RecAttrClear for the whole tree.
type MountBind struct {
	Source       string
	Dest         string
	Recursive    bool
	AttrSet      uint64
	AttrClear    uint64
	RecAttrSet   uint64
	RecAttrClear uint64
}

// FSParam is one fsconfig() parameter.
type FSParam struct {
	Key   string
	Value string
	Flag  bool // FSCONFIG_SET_FLAG: Value is unused
}

// MountFS makes a new filesystem instance (fsopen/fsconfig/fsmount) and
// attaches it at Dest.
type MountFS struct {
	FSType  string
	Source  string
	Dest    string
	AttrSet uint64
	Params  []FSParam
	// DestNoSymlinks makes the init refuse a destination reached
	// through a symlink (proc and sysfs must be on real directories).
	DestNoSymlinks bool
}

// MountSetattr changes the mount at Dest: MOUNT_ATTR_* bits, and one
// propagation type (MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE, 0
// for none), for the whole tree when Recursive.
type MountSetattr struct {
	Dest        string
	AttrSet     uint64
	AttrClear   uint64
	Propagation uint64
	Recursive   bool
}

// Device creates a device node, or bind-mounts the host's node when Bind.
type Device struct {
	Path  string
	Mode  uint32 // S_IF* | permissions
	Major uint32
	Minor uint32
	UID   uint32
	GID   uint32
	Bind  bool
}

type Symlink struct {
	Target string
	Link   string
}

type PivotRoot struct{ NoPivot bool }

// Chroot makes Path the root without any mount: for a container that
// shares the host's mount namespace.
type Chroot struct{ Path string }

type MaskPath struct{ Path string }

type ReadonlyPath struct{ Path string }

type RootReadonly struct{}

// Sysctl writes Value to /proc/sys/Key (Key uses "/" separators).
type Sysctl struct {
	Key   string
	Value string
}

type Hostname struct{ Name string }

type Domainname struct{ Name string }

type Rlimit struct {
	Resource uint32
	Soft     uint64
	Hard     uint64
}

// Sync asks the parent to do something (run hooks) and waits for it.
type Sync struct{ Tag uint32 }

// Sync tags.
const (
	SyncCreateRuntime   = 1
	SyncCreateContainer = 2
	// SyncJoinCgroup (exec): the parent moves the sender, the process
	// just forked in the container's namespaces, into the container's
	// cgroup. Only that one process ever counts against pids.max.
	SyncJoinCgroup = 3
	// SyncCgroupJoined (create): stage 1 waits until the parent has put
	// it in the container's cgroup, which the parent does while stage 1
	// creates the namespaces; then it creates the cgroup namespace
	// (rooted at that cgroup) and forks the init.
	SyncCgroupJoined = 4
	// SyncCgroupMade (create, CgroupSelfJoinLate): stage 1 has created
	// the namespaces and waits until the parent has made the cgroups
	// and set their limits; then it joins them by itself.
	SyncCgroupMade = 5
)

// CapsBounding drops every capability up to LastCap that is not in Keep.
type CapsBounding struct {
	Keep    uint64
	LastCap uint32
}

// User switches to UID/GID with Groups, keeping capabilities.
type User struct {
	UID    uint32
	GID    uint32
	Groups []uint32
	// SetGroups is false where setgroups(2) is denied (rootless user ns).
	SetGroups bool
}

type Caps struct {
	Effective, Permitted, Inheritable, Ambient uint64
}

type NoNewPrivs struct{}

type Umask struct{ Mask uint32 }

// Cwd changes to Dir, resolved inside the container's root; with Create
// it only makes the directory (as root, before the user switch).
type Cwd struct {
	Dir    string
	Create bool
}

// CloseFds closes every fd from First on: all the init opened itself.
type CloseFds struct{ First uint32 }

// ExecResolve finds Arg0 in the container (in PATH when it has no slash)
// and checks it is executable, so a missing binary fails at create.
type ExecResolve struct {
	Arg0 string
	Path string
}

// WaitExecFifo reports MSG_READY, waits for the parent's ack, and blocks
// reading the exec fifo (inherited read-write as fd Fd) until `skiff
// start` writes to it.
type WaitExecFifo struct{ Fd uint32 }

// Seccomp loads a BPF program (struct sock_filter array).
type Seccomp struct {
	Flags  uint32
	Filter []byte
}

// Exec execve()s the path ExecResolve found.
type Exec struct {
	Args []string
	Env  []string
}

// ReportPid sends MSG_PID so the parent learns the pid (exec).
type ReportPid struct{}

// ExecLabel sets the SELinux label the process gets at execve, through
// the init's private procfs (thread-self/attr/exec).
type ExecLabel struct{ Label string }

func (s ExecLabel) encode(e *encoder) { e.record(recExecLabel, func() { e.str(s.Label) }) }
func (ExecLabel) String() string      { return "set the SELinux exec label" }

// SessionKeyring joins the session keyring Name (creating it if no
// keyring of that name is searchable), so that the container's
// processes share one keyring of their own instead of the caller's.
// SearchPerm bits are added to a new keyring's permissions so that
// `exec` can join it by name; Label, if set, is the SELinux label of
// the keyring (thread-self/attr/keycreate), reset afterwards.
type SessionKeyring struct {
	Name       string
	SearchPerm uint32
	Label      string
}

func (s SessionKeyring) encode(e *encoder) {
	e.record(recSessionKeyring, func() { e.str(s.Name); e.u32(s.SearchPerm); e.str(s.Label) })
}
func (s SessionKeyring) String() string { return "join session keyring " + s.Name }

// Console creates a pty in the container and makes it the controlling
// terminal and stdio; the master goes to the parent.
type Console struct {
	Rows, Cols uint32
}

func (s NSJoin) encode(e *encoder) {
	e.record(recNSJoin, func() { e.u32(s.Type); e.str(s.Path) })
}
func (s NSUnshare) encode(e *encoder) { e.record(recNSUnshare, func() { e.u32(s.Flags) }) }
func (s CgroupJoin) encode(e *encoder) {
	e.record(recCgroupJoin, func() { e.str(s.Dir); e.u32(b2u(s.Later)) })
}
func (CgroupJoinKept) encode(e *encoder) { e.record(recCgroupJoinKept, func() {}) }
func (ForkInit) encode(e *encoder)       { e.record(recForkInit, func() {}) }
func (Setsid) encode(e *encoder)         { e.record(recSetsid, func() {}) }
func (s Rootfs) encode(e *encoder) {
	e.record(recRootfs, func() {
		e.u32(uint32(len(s.Propagation)))
		for _, p := range s.Propagation {
			e.u64(p)
		}
		e.str(s.Path)
	})
}
func (s MountBind) encode(e *encoder) {
	e.record(recMountBind, func() {
		e.str(s.Source)
		e.str(s.Dest)
		var flags uint32
		if s.Recursive {
			flags |= bindRecursive
		}
		e.u32(flags)
		e.u64(s.AttrSet)
		e.u64(s.AttrClear)
		e.u64(s.RecAttrSet)
		e.u64(s.RecAttrClear)
	})
}
func (s MountFS) encode(e *encoder) {
	e.record(recMountFS, func() {
		e.str(s.FSType)
		e.str(s.Source)
		e.str(s.Dest)
		e.u32(b2u(s.DestNoSymlinks))
		e.u64(s.AttrSet)
		e.u32(uint32(len(s.Params)))
		for _, p := range s.Params {
			if p.Flag {
				e.u32(fsParamFlag)
			} else {
				e.u32(fsParamString)
			}
			e.str(p.Key)
			e.str(p.Value)
		}
	})
}
func (s MountSetattr) encode(e *encoder) {
	e.record(recMountSetattr, func() {
		e.str(s.Dest)
		e.u64(s.AttrSet)
		e.u64(s.AttrClear)
		e.u64(s.Propagation)
		e.u32(b2u(s.Recursive))
	})
}
func (s Device) encode(e *encoder) {
	e.record(recDevice, func() {
		e.str(s.Path)
		e.u32(s.Mode)
		e.u32(s.Major)
		e.u32(s.Minor)
		e.u32(s.UID)
		e.u32(s.GID)
		e.u32(b2u(s.Bind))
	})
}
func (s Symlink) encode(e *encoder) {
	e.record(recSymlink, func() { e.str(s.Target); e.str(s.Link) })
}
func (s PivotRoot) encode(e *encoder) {
	e.record(recPivotRoot, func() { e.u32(b2u(s.NoPivot)) })
}
func (s Chroot) encode(e *encoder)       { e.record(recChroot, func() { e.str(s.Path) }) }
func (s MaskPath) encode(e *encoder)     { e.record(recMaskPath, func() { e.str(s.Path) }) }
func (s ReadonlyPath) encode(e *encoder) { e.record(recReadonlyPath, func() { e.str(s.Path) }) }
func (RootReadonly) encode(e *encoder)   { e.record(recRootReadonly, func() {}) }
func (s Sysctl) encode(e *encoder) {
	e.record(recSysctl, func() { e.str(s.Key); e.str(s.Value) })
}
func (s Hostname) encode(e *encoder)   { e.record(recHostname, func() { e.str(s.Name) }) }
func (s Domainname) encode(e *encoder) { e.record(recDomainname, func() { e.str(s.Name) }) }
func (s Rlimit) encode(e *encoder) {
	e.record(recRlimit, func() { e.u32(s.Resource); e.u64(s.Soft); e.u64(s.Hard) })
}
func (s Sync) encode(e *encoder) { e.record(recSync, func() { e.u32(s.Tag) }) }
func (s CapsBounding) encode(e *encoder) {
	e.record(recCapsBounding, func() { e.u64(s.Keep); e.u32(s.LastCap) })
}
func (s User) encode(e *encoder) {
	e.record(recUser, func() {
		e.u32(s.UID)
		e.u32(s.GID)
		e.u32(b2u(s.SetGroups))
		e.u32(uint32(len(s.Groups)))
		for _, g := range s.Groups {
			e.u32(g)
		}
	})
}
func (s Caps) encode(e *encoder) {
	e.record(recCaps, func() { e.u64(s.Effective); e.u64(s.Permitted); e.u64(s.Inheritable); e.u64(s.Ambient) })
}
func (NoNewPrivs) encode(e *encoder) { e.record(recNoNewPrivs, func() {}) }
func (s Umask) encode(e *encoder)    { e.record(recUmask, func() { e.u32(s.Mask) }) }
func (s Cwd) encode(e *encoder) {
	e.record(recCwd, func() { e.u32(b2u(s.Create)); e.str(s.Dir) })
}
func (s CloseFds) encode(e *encoder) { e.record(recCloseFds, func() { e.u32(s.First) }) }
func (s ExecResolve) encode(e *encoder) {
	e.record(recExecResolve, func() { e.str(s.Arg0); e.str(s.Path) })
}
func (s WaitExecFifo) encode(e *encoder) { e.record(recWaitExecFifo, func() { e.u32(s.Fd) }) }
func (s Seccomp) encode(e *encoder) {
	e.record(recSeccomp, func() { e.u32(s.Flags); e.blob(s.Filter) })
}
func (s Exec) encode(e *encoder) {
	e.record(recExec, func() { e.strv(s.Args); e.strv(s.Env) })
}
func (ReportPid) encode(e *encoder) { e.record(recReportPid, func() {}) }
func (s Console) encode(e *encoder) {
	e.record(recConsole, func() { e.u32(s.Rows); e.u32(s.Cols) })
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func (s NSJoin) String() string    { return fmt.Sprintf("join namespace %s", s.Path) }
func (s NSUnshare) String() string { return fmt.Sprintf("create namespaces 0x%x", s.Flags) }
func (s CgroupJoin) String() string {
	if s.Later {
		return "open cgroup " + s.Dir
	}
	return "join cgroup " + s.Dir
}
func (CgroupJoinKept) String() string { return "join the cgroups opened" }
func (ForkInit) String() string       { return "fork the init" }
func (Setsid) String() string         { return "setsid" }
func (s Rootfs) String() string       { return "prepare the root filesystem " + s.Path }
func (s MountBind) String() string    { return fmt.Sprintf("bind-mount %s on %s", s.Source, s.Dest) }
func (s MountFS) String() string      { return fmt.Sprintf("mount %s on %s", s.FSType, s.Dest) }
func (s MountSetattr) String() string {
	return fmt.Sprintf("change mount options of %s", s.Dest)
}
func (s Device) String() string       { return "create device " + s.Path }
func (s Symlink) String() string      { return fmt.Sprintf("symlink %s -> %s", s.Link, s.Target) }
func (s PivotRoot) String() string    { return "pivot_root" }
func (s MaskPath) String() string     { return "mask " + s.Path }
func (s Chroot) String() string       { return "chroot to " + s.Path }
func (s ReadonlyPath) String() string { return "make " + s.Path + " read-only" }
func (RootReadonly) String() string   { return "make / read-only" }
func (s Sysctl) String() string       { return "sysctl " + s.Key }
func (s Hostname) String() string     { return "set hostname" }
func (s Domainname) String() string   { return "set domainname" }
func (s Rlimit) String() string       { return fmt.Sprintf("set rlimit %d", s.Resource) }
func (s Sync) String() string         { return fmt.Sprintf("sync %d with the parent", s.Tag) }
func (CapsBounding) String() string   { return "drop bounding capabilities" }
func (s User) String() string         { return fmt.Sprintf("switch to user %d:%d", s.UID, s.GID) }
func (Caps) String() string           { return "set capabilities" }
func (NoNewPrivs) String() string     { return "set no_new_privs" }
func (Umask) String() string          { return "set umask" }
func (s Cwd) String() string          { return "change directory to " + s.Dir }
func (CloseFds) String() string       { return "close skiff's fds" }
func (s ExecResolve) String() string  { return "find " + s.Arg0 }
func (WaitExecFifo) String() string   { return "wait for start" }
func (Seccomp) String() string        { return "load the seccomp filter" }
func (s Exec) String() string         { return "exec" }
func (ReportPid) String() string      { return "report pid" }
func (Console) String() string        { return "set up the console" }
