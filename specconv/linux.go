package specconv

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// namespaceType maps config.json's namespace types to skiff's. (Switches
// here and for rlimits and sysctls, not maps: a map literal is built by
// code at every start of every command.)
func namespaceType(t specs.LinuxNamespaceType) (configs.NamespaceType, bool) {
	switch t {
	case specs.MountNamespace:
		return configs.NEWNS, true
	case specs.UTSNamespace:
		return configs.NEWUTS, true
	case specs.IPCNamespace:
		return configs.NEWIPC, true
	case specs.UserNamespace:
		return configs.NEWUSER, true
	case specs.PIDNamespace:
		return configs.NEWPID, true
	case specs.NetworkNamespace:
		return configs.NEWNET, true
	case specs.CgroupNamespace:
		return configs.NEWCGROUP, true
	case specs.TimeNamespace:
		return configs.NEWTIME, true
	}
	return "", false
}

// convertLinux handles the linux object, except mounts, which need the
// user namespace settings computed here.
func convertLinux(spec *specs.Spec, c *configs.Config) error {
	l := spec.Linux
	if l == nil {
		return fieldErr("linux", "missing")
	}
	steps := []func(*specs.Linux, *configs.Config) error{
		convertNamespaces,
		convertUserNS,
		convertTimeOffsets,
		convertSysctl,
		convertDevices,
		convertPathLists,
		convertRootPropagation,
		checkResourceDevices,
	}
	for _, step := range steps {
		if err := step(l, c); err != nil {
			return err
		}
	}
	c.CgroupsPath = l.CgroupsPath
	c.Resources = l.Resources
	c.Seccomp = l.Seccomp
	c.MountLabel = l.MountLabel
	return nil
}

func convertNamespaces(l *specs.Linux, c *configs.Config) error {
	for i, ns := range l.Namespaces {
		f := fmt.Sprintf("linux.namespaces[%d]", i)
		t, ok := namespaceType(ns.Type)
		if !ok {
			return fieldErr(f+".type", "unknown namespace %q", ns.Type)
		}
		if c.HasNamespace(t) {
			return fieldErr(f+".type", "namespace %q given twice", ns.Type)
		}
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fieldErr(f+".path", "%q is not absolute", ns.Path)
		}
		c.Namespaces = append(c.Namespaces, configs.Namespace{Type: t, Path: ns.Path})
	}
	return nil
}

func convertUserNS(l *specs.Linux, c *configs.Config) error {
	hasUser := c.HasNamespace(configs.NEWUSER)
	if !hasUser {
		if len(l.UIDMappings) > 0 {
			return fieldErr("linux.uidMappings", "needs a user namespace")
		}
		if len(l.GIDMappings) > 0 {
			return fieldErr("linux.gidMappings", "needs a user namespace")
		}
		return nil
	}
	uids, err := convertIDMaps("linux.uidMappings", l.UIDMappings)
	if err != nil {
		return err
	}
	gids, err := convertIDMaps("linux.gidMappings", l.GIDMappings)
	if err != nil {
		return err
	}
	c.UIDMappings, c.GIDMappings = uids, gids
	// Joining a user namespace: mappings, if given (containerd and CRI-O
	// do), only describe it; the namespace's own maps are what count.
	if c.NamespacePath(configs.NEWUSER) != "" {
		return nil
	}
	if len(uids) == 0 {
		return fieldErr("linux.uidMappings", "a new user namespace needs uid mappings")
	}
	if len(gids) == 0 {
		return fieldErr("linux.gidMappings", "a new user namespace needs gid mappings")
	}
	// Like runc: the container's root must exist on the host, since it
	// owns the device nodes and the files skiff creates.
	if _, ok := hostID(uids, 0); !ok {
		return fieldErr("linux.uidMappings", "container uid 0 is not mapped")
	}
	if _, ok := hostID(gids, 0); !ok {
		return fieldErr("linux.gidMappings", "container gid 0 is not mapped")
	}
	p := c.Process
	if _, ok := hostID(uids, p.UID); !ok {
		return fieldErr("process.user.uid", "%d is not mapped in the user namespace", p.UID)
	}
	if _, ok := hostID(gids, p.GID); !ok {
		return fieldErr("process.user.gid", "%d is not mapped in the user namespace", p.GID)
	}
	for i, g := range p.AdditionalGids {
		if _, ok := hostID(gids, g); !ok {
			return fieldErr(fmt.Sprintf("process.user.additionalGids[%d]", i), "%d is not mapped in the user namespace", g)
		}
	}
	return nil
}

func convertIDMaps(field string, in []specs.LinuxIDMapping) ([]configs.IDMap, error) {
	var out []configs.IDMap
	for i, m := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		if m.Size == 0 {
			return nil, fieldErr(f+".size", "must not be zero")
		}
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 {
			return nil, fieldErr(f, "container range %d+%d overflows 32 bits", m.ContainerID, m.Size)
		}
		if uint64(m.HostID)+uint64(m.Size) > 1<<32 {
			return nil, fieldErr(f, "host range %d+%d overflows 32 bits", m.HostID, m.Size)
		}
		out = append(out, configs.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	return out, nil
}

// hostID maps a container ID to the host through maps.
func hostID(maps []configs.IDMap, id uint32) (uint32, bool) {
	for _, m := range maps {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return m.HostID + (id - m.ContainerID), true
		}
	}
	return 0, false
}

func convertTimeOffsets(l *specs.Linux, c *configs.Config) error {
	if len(l.TimeOffsets) == 0 {
		return nil
	}
	if !c.HasNamespace(configs.NEWTIME) || c.NamespacePath(configs.NEWTIME) != "" {
		return fieldErr("linux.timeOffsets", "needs a new time namespace")
	}
	c.TimeOffsets = make(map[string]configs.TimeOffset, len(l.TimeOffsets))
	for _, clock := range sortedKeys(l.TimeOffsets) {
		off := l.TimeOffsets[clock]
		f := fmt.Sprintf("linux.timeOffsets[%q]", clock)
		if clock != "monotonic" && clock != "boottime" {
			return fieldErr(f, "unknown clock (want \"monotonic\" or \"boottime\")")
		}
		if off.Nanosecs >= 1e9 {
			return fieldErr(f+".nanosecs", "%d is not below one second", off.Nanosecs)
		}
		c.TimeOffsets[clock] = configs.TimeOffset{Secs: off.Secs, Nanosecs: off.Nanosecs}
	}
	return nil
}

// convertPathLists checks maskedPaths and readonlyPaths.
func convertPathLists(l *specs.Linux, c *configs.Config) error {
	var err error
	if c.MaskedPaths, err = cleanAbsPaths("linux.maskedPaths", l.MaskedPaths); err != nil {
		return err
	}
	c.ReadonlyPaths, err = cleanAbsPaths("linux.readonlyPaths", l.ReadonlyPaths)
	return err
}

func cleanAbsPaths(field string, in []string) ([]string, error) {
	var out []string
	for i, p := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !filepath.IsAbs(p) {
			return nil, fieldErr(f, "%q is not absolute", p)
		}
		if strings.IndexByte(p, 0) >= 0 {
			return nil, fieldErr(f, "contains a NUL byte")
		}
		out = append(out, filepath.Clean(p))
	}
	return out, nil
}

func convertRootPropagation(l *specs.Linux, c *configs.Config) error {
	if l.RootfsPropagation == "" {
		return nil
	}
	o, ok := mountOptionOf(l.RootfsPropagation)
	if !ok || o.kind != optPropagation {
		return fieldErr("linux.rootfsPropagation", "unknown propagation %q", l.RootfsPropagation)
	}
	// Without pivot_root the old root stays reachable, and a private root
	// would let mounts made in the container pin host file systems.
	if c.NoPivotRoot && o.flag&msPrivate != 0 {
		return fieldErr("linux.rootfsPropagation", "%q is not safe without pivot_root", l.RootfsPropagation)
	}
	c.RootPropagation = o.flag
	return nil
}

func checkResourceDevices(l *specs.Linux, _ *configs.Config) error {
	if l.Resources == nil {
		return nil
	}
	for i, d := range l.Resources.Devices {
		f := fmt.Sprintf("linux.resources.devices[%d]", i)
		switch d.Type {
		case "", "a", "b", "c":
		default:
			return fieldErr(f+".type", "unknown device type %q (want a, b or c)", d.Type)
		}
		if d.Access == "" {
			return fieldErr(f+".access", "must not be empty")
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return fieldErr(f+".access", "%q has letters other than r, w and m", d.Access)
		}
	}
	return nil
}

// checkRootless applies the limits of running without root on the host:
// only a user namespace gives the container any privilege.
func checkRootless(c *configs.Config) error {
	if !c.HasNamespace(configs.NEWUSER) {
		return fieldErr("linux.namespaces", "a rootless container needs a user namespace")
	}
	for i, m := range c.Mounts {
		f := fmt.Sprintf("mounts[%d]", i)
		if m.IDMapped {
			return fieldErr(f, "id-mapped mounts need root on the host")
		}
		if c.NamespacePath(configs.NEWUSER) != "" {
			continue
		}
		// uid=/gid= of tmpfs, devpts, ... must name IDs that exist in
		// the namespace, or the kernel refuses the mount.
		for _, opt := range strings.Split(m.Data, ",") {
			key, val, _ := strings.Cut(opt, "=")
			maps := c.UIDMappings
			switch key {
			case "uid":
			case "gid":
				maps = c.GIDMappings
			default:
				continue
			}
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				continue // not an ID; the file system will judge it
			}
			id := uint32(n)
			if _, ok := hostID(maps, id); !ok {
				return fieldErr(f+".options", "%s=%d is not mapped in the user namespace", key, id)
			}
		}
	}
	return nil
}
