package specconv

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

type optKind int

const (
	optNone        optKind = iota // accepted, no effect
	optSet                        // sets an MS_* flag
	optClear                      // clears an MS_* flag
	optBind                       // bind or rbind
	optPropagation                // MS_SHARED, MS_SLAVE, ... (maybe with MS_REC)
	optRecSet                     // sets a MOUNT_ATTR_* on the whole tree
	optRecClear                   // clears a MOUNT_ATTR_* on the whole tree
	optIDMap                      // idmap (flag 0) or ridmap (flag 1)
	optCopyUp                     // tmpcopyup
)

type mountOption struct {
	kind optKind
	flag uint64
}

const msPrivate = unix.MS_PRIVATE

// mountOptions is every option name skiff interprets itself, the same
// set runc does, sorted by name for mountOptionOf; any other option is
// passed to the file system as data. A sorted table rather than a map:
// the linker lays it out, where a map would be built by code at every
// start of every command.
var mountOptions = []mountOptionEntry{
	{"async", mountOption{optClear, unix.MS_SYNCHRONOUS}},
	{"atime", mountOption{optClear, unix.MS_NOATIME}},
	{"bind", mountOption{optBind, unix.MS_BIND}},
	{"defaults", mountOption{optNone, 0}},
	{"dev", mountOption{optClear, unix.MS_NODEV}},
	{"diratime", mountOption{optClear, unix.MS_NODIRATIME}},
	{"dirsync", mountOption{optSet, unix.MS_DIRSYNC}},
	{"exec", mountOption{optClear, unix.MS_NOEXEC}},
	{"idmap", mountOption{optIDMap, 0}},
	{"iversion", mountOption{optSet, unix.MS_I_VERSION}},
	{"lazytime", mountOption{optSet, unix.MS_LAZYTIME}},
	{"loud", mountOption{optClear, unix.MS_SILENT}},
	{"mand", mountOption{optSet, unix.MS_MANDLOCK}},
	{"noatime", mountOption{optSet, unix.MS_NOATIME}},
	{"nodev", mountOption{optSet, unix.MS_NODEV}},
	{"nodiratime", mountOption{optSet, unix.MS_NODIRATIME}},
	{"noexec", mountOption{optSet, unix.MS_NOEXEC}},
	{"noiversion", mountOption{optClear, unix.MS_I_VERSION}},
	{"nolazytime", mountOption{optClear, unix.MS_LAZYTIME}},
	{"nomand", mountOption{optClear, unix.MS_MANDLOCK}},
	{"norelatime", mountOption{optClear, unix.MS_RELATIME}},
	// A cleared MS_STRICTATIME is how mount(8) spells nostrictatime too.
	{"nostrictatime", mountOption{optClear, unix.MS_STRICTATIME}},
	{"nosuid", mountOption{optSet, unix.MS_NOSUID}},
	{"nosymfollow", mountOption{optSet, unix.MS_NOSYMFOLLOW}},
	{"private", mountOption{optPropagation, unix.MS_PRIVATE}},
	{"ratime", mountOption{optRecClear, unix.MOUNT_ATTR_NOATIME}},
	{"rbind", mountOption{optBind, unix.MS_BIND | unix.MS_REC}},
	{"rdev", mountOption{optRecClear, unix.MOUNT_ATTR_NODEV}},
	{"rdiratime", mountOption{optRecClear, unix.MOUNT_ATTR_NODIRATIME}},
	{"relatime", mountOption{optSet, unix.MS_RELATIME}},
	{"remount", mountOption{optSet, unix.MS_REMOUNT}},
	{"rexec", mountOption{optRecClear, unix.MOUNT_ATTR_NOEXEC}},
	{"ridmap", mountOption{optIDMap, 1}},
	{"rnoatime", mountOption{optRecSet, unix.MOUNT_ATTR_NOATIME}},
	{"rnodev", mountOption{optRecSet, unix.MOUNT_ATTR_NODEV}},
	{"rnodiratime", mountOption{optRecSet, unix.MOUNT_ATTR_NODIRATIME}},
	{"rnoexec", mountOption{optRecSet, unix.MOUNT_ATTR_NOEXEC}},
	{"rnorelatime", mountOption{optRecClear, unix.MOUNT_ATTR_RELATIME}},
	{"rnostrictatime", mountOption{optRecClear, unix.MOUNT_ATTR_STRICTATIME}},
	{"rnosuid", mountOption{optRecSet, unix.MOUNT_ATTR_NOSUID}},
	{"rnosymfollow", mountOption{optRecSet, unix.MOUNT_ATTR_NOSYMFOLLOW}},
	{"ro", mountOption{optSet, unix.MS_RDONLY}},
	{"rprivate", mountOption{optPropagation, unix.MS_PRIVATE | unix.MS_REC}},
	{"rrelatime", mountOption{optRecSet, unix.MOUNT_ATTR_RELATIME}},
	{"rro", mountOption{optRecSet, unix.MOUNT_ATTR_RDONLY}},
	{"rrw", mountOption{optRecClear, unix.MOUNT_ATTR_RDONLY}},
	{"rshared", mountOption{optPropagation, unix.MS_SHARED | unix.MS_REC}},
	{"rslave", mountOption{optPropagation, unix.MS_SLAVE | unix.MS_REC}},
	{"rstrictatime", mountOption{optRecSet, unix.MOUNT_ATTR_STRICTATIME}},
	{"rsuid", mountOption{optRecClear, unix.MOUNT_ATTR_NOSUID}},
	{"rsymfollow", mountOption{optRecClear, unix.MOUNT_ATTR_NOSYMFOLLOW}},
	{"runbindable", mountOption{optPropagation, unix.MS_UNBINDABLE | unix.MS_REC}},
	{"rw", mountOption{optClear, unix.MS_RDONLY}},
	{"shared", mountOption{optPropagation, unix.MS_SHARED}},
	{"silent", mountOption{optSet, unix.MS_SILENT}},
	{"slave", mountOption{optPropagation, unix.MS_SLAVE}},
	{"strictatime", mountOption{optSet, unix.MS_STRICTATIME}},
	{"suid", mountOption{optClear, unix.MS_NOSUID}},
	{"symfollow", mountOption{optClear, unix.MS_NOSYMFOLLOW}},
	{"sync", mountOption{optSet, unix.MS_SYNCHRONOUS}},
	{"tmpcopyup", mountOption{optCopyUp, 0}},
	{"unbindable", mountOption{optPropagation, unix.MS_UNBINDABLE}},
}

type mountOptionEntry struct {
	name string
	opt  mountOption
}

// mountOptionOf looks name up in mountOptions.
func mountOptionOf(name string) (mountOption, bool) {
	i, found := slices.BinarySearchFunc(mountOptions, name, func(e mountOptionEntry, name string) int {
		return strings.Compare(e.name, name)
	})
	if !found {
		return mountOption{}, false
	}
	return mountOptions[i].opt, true
}

// MountOptionNames lists, sorted, the mount options skiff interprets
// (for `skiff features`); others are handed to the file system.
func MountOptionNames() []string {
	names := make([]string, len(mountOptions))
	for i, e := range mountOptions {
		names[i] = e.name
	}
	return names
}

// ParseMountOptions decodes config.json mount options into the flag and
// data fields of a Mount. Later options override earlier ones, as with
// mount(8): "ro,rw" is read-write.
func ParseMountOptions(options []string) configs.Mount {
	var m configs.Mount
	var data []string
	for _, name := range options {
		o, ok := mountOptionOf(name)
		if !ok {
			data = append(data, name)
			continue
		}
		switch o.kind {
		case optSet:
			m.Flags |= o.flag
			m.ClearFlags &^= o.flag
		case optClear:
			m.Flags &^= o.flag
			m.ClearFlags |= o.flag
		case optBind:
			m.Flags |= o.flag
			m.Bind = true
			if o.flag&unix.MS_REC != 0 {
				m.Recursive = true
			}
		case optPropagation:
			m.Propagation = append(m.Propagation, o.flag)
		case optRecSet:
			m.RecAttrSet |= o.flag
			m.RecAttrClear &^= o.flag
			// mount_setattr(2): an access-time mode is set by clearing
			// the whole MOUNT_ATTR__ATIME field along with setting it.
			if o.flag&unix.MOUNT_ATTR__ATIME == o.flag {
				m.RecAttrClear |= unix.MOUNT_ATTR__ATIME
			}
			m.Recursive = true
		case optRecClear:
			m.RecAttrClear |= o.flag
			m.RecAttrSet &^= o.flag
			m.Recursive = true
		case optIDMap:
			m.IDMapped = true
			m.RecursiveIDMap = o.flag == 1
			if m.RecursiveIDMap {
				m.Recursive = true
			}
		case optCopyUp:
			m.CopyUp = true
		}
	}
	m.Data = strings.Join(data, ",")
	return m
}

func convertMounts(spec *specs.Spec, bundle string, c *configs.Config) error {
	for i, sm := range spec.Mounts {
		m, err := convertMount(fmt.Sprintf("mounts[%d]", i), sm, bundle, c)
		if err != nil {
			return err
		}
		c.Mounts = append(c.Mounts, m)
	}
	return nil
}

func convertMount(f string, sm specs.Mount, bundle string, c *configs.Config) (configs.Mount, error) {
	dest, err := cleanDestination(f+".destination", sm.Destination)
	if err != nil {
		return configs.Mount{}, err
	}
	if strings.IndexByte(sm.Source, 0) >= 0 {
		return configs.Mount{}, fieldErr(f+".source", "contains a NUL byte")
	}
	if strings.IndexByte(sm.Type, 0) >= 0 {
		return configs.Mount{}, fieldErr(f+".type", "contains a NUL byte")
	}
	m := ParseMountOptions(sm.Options)
	m.Destination = dest
	m.Source = sm.Source
	m.Type = sm.Type
	if sm.Type == "bind" && !m.Bind {
		m.Bind = true
		m.Flags |= unix.MS_BIND
	}
	if m.Bind {
		// The type of a bind mount means nothing to the kernel.
		m.Type = "bind"
		if m.Source == "" {
			return configs.Mount{}, fieldErr(f+".source", "must not be empty for a bind mount")
		}
		if !filepath.IsAbs(m.Source) {
			m.Source = filepath.Join(bundle, m.Source)
		}
		m.Source = filepath.Clean(m.Source)
	}
	if m.CopyUp && m.Type != "tmpfs" {
		return configs.Mount{}, fieldErr(f+".options", "tmpcopyup needs a tmpfs mount")
	}
	if err := convertMountIDMap(f, sm, &m, c); err != nil {
		return configs.Mount{}, err
	}
	return m, nil
}

// cleanDestination requires an absolute path that stays inside the
// container's root when its ".." are followed lexically: "/a/../b" is
// "/b", but "/../b" tries to climb out and is refused rather than
// silently turned into "/b".
func cleanDestination(f, dest string) (string, error) {
	if dest == "" {
		return "", fieldErr(f, "must not be empty")
	}
	if strings.IndexByte(dest, 0) >= 0 {
		return "", fieldErr(f, "contains a NUL byte")
	}
	if !filepath.IsAbs(dest) {
		return "", fieldErr(f, "%q is not absolute", dest)
	}
	depth := 0
	for _, part := range strings.Split(dest, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", fieldErr(f, "%q escapes the root", dest)
			}
		default:
			depth++
		}
	}
	return filepath.Clean(dest), nil
}

func convertMountIDMap(f string, sm specs.Mount, m *configs.Mount, c *configs.Config) error {
	explicit := len(sm.UIDMappings) > 0 || len(sm.GIDMappings) > 0
	if !explicit && !m.IDMapped {
		return nil
	}
	field := f + ".options"
	if explicit {
		field = f + ".uidMappings"
		if len(sm.UIDMappings) == 0 {
			return fieldErr(f+".uidMappings", "must be given along with gidMappings")
		}
		if len(sm.GIDMappings) == 0 {
			return fieldErr(f+".gidMappings", "must be given along with uidMappings")
		}
	}
	if !m.Bind {
		return fieldErr(field, "id-mapped mounts must be bind mounts")
	}
	m.IDMapped = true
	if explicit {
		var err error
		if m.UIDMappings, err = convertIDMaps(f+".uidMappings", sm.UIDMappings); err != nil {
			return err
		}
		m.GIDMappings, err = convertIDMaps(f+".gidMappings", sm.GIDMappings)
		return err
	}
	// Without its own mappings the mount takes the container's; for a
	// joined user namespace the planner reads them from its path.
	if !c.HasNamespace(configs.NEWUSER) {
		return fieldErr(field, "idmap without uidMappings/gidMappings needs a user namespace")
	}
	if c.NamespacePath(configs.NEWUSER) == "" {
		m.UIDMappings = c.UIDMappings
		m.GIDMappings = c.GIDMappings
	}
	return nil
}
