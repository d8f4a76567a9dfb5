// Package configs holds skiff's own container configuration: what
// specconv makes of an OCI bundle after validation, and what the init
// planner (libcontainer/initplan) turns into steps. Everything here is
// already checked: paths are clean, names are resolved to numbers, and
// nothing refers back to config.json.
package configs

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NamespaceType is one of the eight Linux namespace kinds.
type NamespaceType string

const (
	NEWNS     NamespaceType = "mount"
	NEWUTS    NamespaceType = "uts"
	NEWIPC    NamespaceType = "ipc"
	NEWUSER   NamespaceType = "user"
	NEWPID    NamespaceType = "pid"
	NEWNET    NamespaceType = "network"
	NEWCGROUP NamespaceType = "cgroup"
	NEWTIME   NamespaceType = "time"
)

// Namespace is either a new namespace (Path == "") or one to join.
type Namespace struct {
	Type NamespaceType
	Path string
}

// IDMap is one line of /proc/PID/uid_map or gid_map.
type IDMap struct {
	ContainerID uint32
	HostID      uint32
	Size        uint32
}

// TimeOffset is one clock's offset for a new time namespace.
type TimeOffset struct {
	Secs     int64
	Nanosecs uint32
}

// Mount is one entry of config.json's mounts, decoded.
//
// Flags are MS_* bits that apply to the mount itself (ro, nosuid, ...);
// ClearFlags are bits the options explicitly turned off (rw, suid, ...),
// which matters for bind mounts that inherit their source's flags.
// Propagation holds MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE, each
// possibly with MS_REC, in the order given. Data holds the options the
// filesystem itself parses ("size=64k,mode=755").
type Mount struct {
	Source      string
	Destination string // absolute, cleaned, inside the container
	Type        string
	Bind        bool // bind or rbind
	Recursive   bool // rbind, or an r* option
	Flags       uint64
	ClearFlags  uint64
	Propagation []uint64
	Data        string
	// Attributes that only mount_setattr can express.
	RecAttrSet   uint64 // MOUNT_ATTR_* set recursively (rro, rnosuid, ...)
	RecAttrClear uint64
	IDMapped     bool
	UIDMappings  []IDMap
	GIDMappings  []IDMap
	// RecursiveIDMap is "ridmap": the id mapping also applies to
	// submounts of an rbind. Recursive alone cannot say this, since
	// rbind,idmap maps only the top mount.
	RecursiveIDMap bool
	// CopyUp is runc's "tmpcopyup" extension: a tmpfs mounted over a
	// directory of the rootfs starts with a copy of that directory.
	CopyUp bool
}

// Device is a device node to create in the container's /dev.
type Device struct {
	Path     string // absolute, inside the container
	Type     rune   // 'c', 'b', 'u' or 'p'
	Major    int64
	Minor    int64
	FileMode uint32 // permission bits only
	UID      uint32
	GID      uint32
}

// Rlimit is a resource limit, with Type already resolved to RLIMIT_*.
type Rlimit struct {
	Type int
	Soft uint64
	Hard uint64
}

// Capabilities lists capability names per set, as in config.json.
type Capabilities struct {
	Bounding    []string
	Effective   []string
	Permitted   []string
	Inheritable []string
	Ambient     []string
}

// Process is what runs in the container.
type Process struct {
	Args            []string
	Env             []string
	Cwd             string
	UID             uint32
	GID             uint32
	AdditionalGids  []uint32
	Umask           *uint32
	Rlimits         []Rlimit
	Capabilities    *Capabilities
	NoNewPrivileges bool
	Terminal        bool
	ConsoleWidth    uint
	ConsoleHeight   uint
	OOMScoreAdj     *int
	ApparmorProfile string
	SelinuxLabel    string
	// The original OCI fields that later subsystems (seccomp, scheduler,
	// io priority, ...) read; the planner decides what to do with them.
	Spec *specs.Process
}

// Config is a validated container configuration.
type Config struct {
	OCIVersion      string
	Rootfs          string // absolute host path of the root filesystem
	RootReadonly    bool
	NoPivotRoot     bool
	NoNewKeyring    bool // --no-new-keyring: keep the caller's session keyring
	Rootless        bool // skiff runs with euid != 0
	Hostname        string
	Domainname      string
	Namespaces      []Namespace
	UIDMappings     []IDMap
	GIDMappings     []IDMap
	TimeOffsets     map[string]TimeOffset // "monotonic", "boottime"
	Mounts          []Mount
	RootPropagation uint64 // MS_* propagation for "/", 0 = default (rslave)
	Devices         []Device
	MaskedPaths     []string
	ReadonlyPaths   []string
	Sysctl          map[string]string
	MountLabel      string
	Process         Process
	Hooks           *specs.Hooks
	CgroupsPath     string
	Resources       *specs.LinuxResources
	Seccomp         *specs.LinuxSeccomp
	Annotations     map[string]string
	// Spec is the whole validated OCI spec, for the planner's subsystems
	// that read fields not modelled above. It is not saved with the
	// state: decoding the spec's whole type tree (Windows, VM, zOS ...)
	// is most of what loading a container costs, and later commands
	// read only Process.Spec.
	Spec *specs.Spec `json:"-"`
}

// HasNamespace reports whether the config asks for (new or joined) t.
func (c *Config) HasNamespace(t NamespaceType) bool {
	for _, ns := range c.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// NamespacePath returns the path of a namespace to join, "" for a new one.
func (c *Config) NamespacePath(t NamespaceType) string {
	for _, ns := range c.Namespaces {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}
