package specconv

import (
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

func TestParseMountOptions(t *testing.T) {
	const atime = unix.MOUNT_ATTR__ATIME
	tests := []struct {
		opts []string
		want configs.Mount
	}{
		{nil, configs.Mount{}},
		{[]string{"defaults"}, configs.Mount{}},
		{[]string{"nosuid", "noexec", "nodev", "ro"},
			configs.Mount{Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY}},
		{[]string{"ro", "rw"}, configs.Mount{ClearFlags: unix.MS_RDONLY}},
		{[]string{"rw", "ro"}, configs.Mount{Flags: unix.MS_RDONLY}},
		{[]string{"suid", "dev", "exec", "async", "nomand", "atime", "diratime", "norelatime", "nostrictatime", "nolazytime", "noiversion", "loud", "symfollow"},
			configs.Mount{ClearFlags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_SYNCHRONOUS | unix.MS_MANDLOCK |
				unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_LAZYTIME |
				unix.MS_I_VERSION | unix.MS_SILENT | unix.MS_NOSYMFOLLOW}},
		{[]string{"sync", "dirsync", "remount", "mand", "noatime", "nodiratime", "relatime", "strictatime", "lazytime", "iversion", "silent", "nosymfollow"},
			configs.Mount{Flags: unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_REMOUNT | unix.MS_MANDLOCK | unix.MS_NOATIME |
				unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_LAZYTIME | unix.MS_I_VERSION |
				unix.MS_SILENT | unix.MS_NOSYMFOLLOW}},
		{[]string{"bind"}, configs.Mount{Bind: true, Flags: unix.MS_BIND}},
		{[]string{"rbind", "ro"}, configs.Mount{Bind: true, Recursive: true, Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY}},
		{[]string{"rprivate", "shared", "rslave", "unbindable"},
			configs.Mount{Propagation: []uint64{unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED, unix.MS_SLAVE | unix.MS_REC, unix.MS_UNBINDABLE}}},
		{[]string{"private", "rshared", "slave", "runbindable"},
			configs.Mount{Propagation: []uint64{unix.MS_PRIVATE, unix.MS_SHARED | unix.MS_REC, unix.MS_SLAVE, unix.MS_UNBINDABLE | unix.MS_REC}}},
		{[]string{"rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime", "rnosymfollow"},
			configs.Mount{Recursive: true, RecAttrSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
				unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{[]string{"rrw", "rsuid", "rdev", "rexec", "rdiratime", "rsymfollow"},
			configs.Mount{Recursive: true, RecAttrClear: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
				unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{[]string{"rro", "rrw"}, configs.Mount{Recursive: true, RecAttrClear: unix.MOUNT_ATTR_RDONLY}},
		{[]string{"rrw", "rro"}, configs.Mount{Recursive: true, RecAttrSet: unix.MOUNT_ATTR_RDONLY}},
		// Setting an access-time mode also clears the whole atime field.
		{[]string{"rnoatime"}, configs.Mount{Recursive: true, RecAttrSet: unix.MOUNT_ATTR_NOATIME, RecAttrClear: atime}},
		{[]string{"rstrictatime"}, configs.Mount{Recursive: true, RecAttrSet: unix.MOUNT_ATTR_STRICTATIME, RecAttrClear: atime}},
		{[]string{"rrelatime"}, configs.Mount{Recursive: true, RecAttrClear: atime}},
		{[]string{"ratime"}, configs.Mount{Recursive: true, RecAttrClear: unix.MOUNT_ATTR_NOATIME}},
		{[]string{"rnostrictatime"}, configs.Mount{Recursive: true, RecAttrClear: unix.MOUNT_ATTR_STRICTATIME}},
		{[]string{"rnorelatime"}, configs.Mount{Recursive: true}},
		{[]string{"idmap"}, configs.Mount{IDMapped: true}},
		{[]string{"ridmap"}, configs.Mount{IDMapped: true, RecursiveIDMap: true, Recursive: true}},
		{[]string{"tmpcopyup"}, configs.Mount{CopyUp: true}},
		{[]string{"nosuid", "size=65536k", "mode=755", "uid=0", "acl", "nr_inodes=1k"},
			configs.Mount{Flags: unix.MS_NOSUID, Data: "size=65536k,mode=755,uid=0,acl,nr_inodes=1k"}},
		// Option names are case-sensitive, as for mount(8).
		{[]string{"RO"}, configs.Mount{Data: "RO"}},
	}
	for _, tt := range tests {
		got := ParseMountOptions(tt.opts)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseMountOptions(%q)\n got %+v\nwant %+v", tt.opts, got, tt.want)
		}
	}
}

func TestMountOptionNames(t *testing.T) {
	names := MountOptionNames()
	if !slices.IsSorted(names) {
		t.Errorf("not sorted: %q", names)
	}
	// Everything runc documents, plus skiff's idmap handling.
	want := []string{
		"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap", "iversion",
		"lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime",
		"nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "ratime", "rbind",
		"rdev", "rdiratime", "relatime", "remount", "rexec", "ridmap", "rnoatime", "rnodev", "rnodiratime",
		"rnoexec", "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime",
		"rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw",
		"shared", "silent", "slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable",
	}
	if !slices.Equal(names, want) {
		t.Errorf("MountOptionNames()\n got %q\nwant %q", names, want)
	}
	// Every listed option must do something other than land in Data,
	// except "defaults", which deliberately does nothing.
	for _, n := range names {
		m := ParseMountOptions([]string{n})
		if m.Data != "" {
			t.Errorf("option %q went to Data", n)
		}
		if n != "defaults" && reflect.DeepEqual(m, configs.Mount{}) && n != "rnorelatime" {
			t.Errorf("option %q has no effect", n)
		}
	}
}

func TestConvertMount(t *testing.T) {
	bundle := "/bundles/b1"
	user := &configs.Config{
		Namespaces:  []configs.Namespace{{Type: configs.NEWNS}, {Type: configs.NEWUSER}},
		UIDMappings: []configs.IDMap{{ContainerID: 0, HostID: 1000, Size: 10}},
		GIDMappings: []configs.IDMap{{ContainerID: 0, HostID: 2000, Size: 10}},
	}
	joined := &configs.Config{
		Namespaces: []configs.Namespace{{Type: configs.NEWNS}, {Type: configs.NEWUSER, Path: "/proc/5/ns/user"}},
	}
	plain := &configs.Config{Namespaces: []configs.Namespace{{Type: configs.NEWNS}}}
	tests := []struct {
		name string
		in   specs.Mount
		c    *configs.Config
		want configs.Mount
	}{
		{"tmpfs", specs.Mount{Destination: "/dev/shm/", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "mode=1777"}}, plain,
			configs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Flags: unix.MS_NOSUID, Data: "mode=1777"}},
		{"relative bind source", specs.Mount{Destination: "/data", Type: "none", Source: "data/../vol", Options: []string{"rbind", "ro"}}, plain,
			configs.Mount{Destination: "/data", Type: "bind", Source: "/bundles/b1/vol", Bind: true, Recursive: true,
				Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY}},
		{"bind type without option", specs.Mount{Destination: "/a/./b/../c", Type: "bind", Source: "/srv//x"}, plain,
			configs.Mount{Destination: "/a/c", Type: "bind", Source: "/srv/x", Bind: true, Flags: unix.MS_BIND}},
		{"relative non-bind source stays", specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"}, plain,
			configs.Mount{Destination: "/proc", Type: "proc", Source: "proc"}},
		{"idmap takes userns mappings", specs.Mount{Destination: "/d", Source: "/s", Options: []string{"bind", "idmap"}}, user,
			configs.Mount{Destination: "/d", Type: "bind", Source: "/s", Bind: true, Flags: unix.MS_BIND, IDMapped: true,
				UIDMappings: user.UIDMappings, GIDMappings: user.GIDMappings}},
		{"idmap in joined userns", specs.Mount{Destination: "/d", Source: "/s", Options: []string{"rbind", "ridmap"}}, joined,
			configs.Mount{Destination: "/d", Type: "bind", Source: "/s", Bind: true, Recursive: true, RecursiveIDMap: true,
				Flags: unix.MS_BIND | unix.MS_REC, IDMapped: true}},
		{"explicit mount mappings", specs.Mount{Destination: "/d", Source: "/s", Type: "bind",
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 5, Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 6, Size: 1}}}, plain,
			configs.Mount{Destination: "/d", Type: "bind", Source: "/s", Bind: true, Flags: unix.MS_BIND, IDMapped: true,
				UIDMappings: []configs.IDMap{{ContainerID: 0, HostID: 5, Size: 1}},
				GIDMappings: []configs.IDMap{{ContainerID: 0, HostID: 6, Size: 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convertMount("mounts[0]", tt.in, bundle, tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestRootPropagation(t *testing.T) {
	for name, want := range map[string]uint64{
		"shared":      unix.MS_SHARED,
		"rshared":     unix.MS_SHARED | unix.MS_REC,
		"slave":       unix.MS_SLAVE,
		"rslave":      unix.MS_SLAVE | unix.MS_REC,
		"private":     unix.MS_PRIVATE,
		"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
		"unbindable":  unix.MS_UNBINDABLE,
		"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
	} {
		spec := ExampleSpec(false)
		spec.Linux.RootfsPropagation = name
		c, err := ToConfig(spec, bundleWithRootfs(t), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.RootPropagation != want {
			t.Errorf("%s: RootPropagation = %#x, want %#x", name, c.RootPropagation, want)
		}
	}
	spec := ExampleSpec(false)
	c, err := ToConfig(spec, bundleWithRootfs(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.RootPropagation != 0 {
		t.Errorf("default RootPropagation = %#x, want 0", c.RootPropagation)
	}
}

// mountOptionOf's binary search needs the table sorted, each name once.
func TestMountOptionsSorted(t *testing.T) {
	for i := 1; i < len(mountOptions); i++ {
		if mountOptions[i-1].name >= mountOptions[i].name {
			t.Errorf("mountOptions: %q before %q", mountOptions[i-1].name, mountOptions[i].name)
		}
	}
	for _, e := range mountOptions {
		if o, ok := mountOptionOf(e.name); !ok || o != e.opt {
			t.Errorf("mountOptionOf(%q) = %v, %v", e.name, o, ok)
		}
	}
	for _, name := range []string{"", "a", "zzz", "mode=755", "RO"} {
		if _, ok := mountOptionOf(name); ok {
			t.Errorf("mountOptionOf(%q) found an option", name)
		}
	}
}
