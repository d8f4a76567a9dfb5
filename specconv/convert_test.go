package specconv

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// bundleWithRootfs makes a bundle directory with an empty rootfs.
func bundleWithRootfs(t *testing.T) string {
	t.Helper()
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return bundle
}

func ptr[T any](v T) *T { return &v }

func addNS(s *specs.Spec, t specs.LinuxNamespaceType, path string) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
}

func dropNS(s *specs.Spec, t specs.LinuxNamespaceType) {
	var out []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			out = append(out, ns)
		}
	}
	s.Linux.Namespaces = out
}

func withUserNS(s *specs.Spec) {
	addNS(s, specs.UserNamespace, "")
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
}

// The example spec's namespaces are, by index: 0 pid, 1 network, 2 ipc,
// 3 uts, 4 mount. Its mounts: 0 /proc, 1 /dev, 2 /dev/pts, 3 /dev/shm,
// 4 /dev/mqueue, 5 /sys, 6 /sys/fs/cgroup.
func TestToConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		opts   Options
		want   string
	}{
		{"major version", func(s *specs.Spec) { s.Version = "2.0.0" }, Options{},
			`ociVersion: unsupported major version "2.0.0"`},
		{"no version", func(s *specs.Spec) { s.Version = "" }, Options{},
			`ociVersion: missing`},
		{"bad version", func(s *specs.Spec) { s.Version = "1.0" }, Options{},
			`ociVersion: "1.0" is not a semantic version (MAJOR.MINOR.PATCH)`},
		{"bad version digits", func(s *specs.Spec) { s.Version = "1.x.0" }, Options{},
			`ociVersion: "1.x.0" is not a semantic version (MAJOR.MINOR.PATCH)`},
		{"no process", func(s *specs.Spec) { s.Process = nil }, Options{},
			`process: missing`},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, Options{},
			`process.args: must not be empty`},
		{"empty argv0", func(s *specs.Spec) { s.Process.Args = []string{""} }, Options{},
			`process.args[0]: must not be empty`},
		{"nul in arg", func(s *specs.Spec) { s.Process.Args = []string{"sh", "a\x00"} }, Options{},
			`process.args[1]: contains a NUL byte`},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "home" }, Options{},
			`process.cwd: must be an absolute path, got "home"`},
		{"empty cwd", func(s *specs.Spec) { s.Process.Cwd = "" }, Options{},
			`process.cwd: must be an absolute path, got ""`},
		{"env without =", func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO") }, Options{},
			`process.env[2]: "FOO" is missing '='`},
		{"env empty name", func(s *specs.Spec) { s.Process.Env = []string{"=x"} }, Options{},
			`process.env[0]: "=x" has an empty name`},
		{"oom too high", func(s *specs.Spec) { s.Process.OOMScoreAdj = ptr(1001) }, Options{},
			`process.oomScoreAdj: 1001 is out of range [-1000, 1000]`},
		{"oom too low", func(s *specs.Spec) { s.Process.OOMScoreAdj = ptr(-1001) }, Options{},
			`process.oomScoreAdj: -1001 is out of range [-1000, 1000]`},
		{"unknown rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_FOO"})
		}, Options{}, `process.rlimits[1].type: unknown rlimit "RLIMIT_FOO"`},
		{"lowercase rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "rlimit_nofile"}}
		}, Options{}, `process.rlimits[0].type: unknown rlimit "rlimit_nofile"`},
		{"duplicate rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 1})
		}, Options{}, `process.rlimits[1].type: rlimit "RLIMIT_NOFILE" given twice`},
		{"soft above hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 2, Hard: 1}}
		}, Options{}, `process.rlimits[0].soft: 2 is above the hard limit 1`},
		{"hook relative", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true"}, {Path: "hook"}}}
		}, Options{}, `hooks.createRuntime[1].path: "hook" is not absolute`},
		{"hook timeout", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true", Timeout: ptr(0)}}}
		}, Options{}, `hooks.poststop[0].timeout: must be greater than zero, got 0`},
		{"no linux", func(s *specs.Spec) { s.Linux = nil }, Options{},
			`linux: missing`},
		{"unknown namespace", func(s *specs.Spec) { s.Linux.Namespaces[2].Type = "foo" }, Options{},
			`linux.namespaces[2].type: unknown namespace "foo"`},
		{"duplicate namespace", func(s *specs.Spec) { addNS(s, specs.PIDNamespace, "/proc/1/ns/pid") }, Options{},
			`linux.namespaces[5].type: namespace "pid" given twice`},
		{"relative namespace path", func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "ns/net" }, Options{},
			`linux.namespaces[1].path: "ns/net" is not absolute`},
		{"uid mappings without userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}}
		}, Options{}, `linux.uidMappings: needs a user namespace`},
		{"gid mappings without userns", func(s *specs.Spec) {
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{Size: 1}}
		}, Options{}, `linux.gidMappings: needs a user namespace`},
		{"userns without mappings", func(s *specs.Spec) { addNS(s, specs.UserNamespace, "") }, Options{},
			`linux.uidMappings: a new user namespace needs uid mappings`},
		{"userns without gid mappings", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.GIDMappings = nil
		}, Options{}, `linux.gidMappings: a new user namespace needs gid mappings`},
		{"zero-size mapping", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 70000, HostID: 1})
		}, Options{}, `linux.uidMappings[1].size: must not be zero`},
		{"overflowing mapping", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings[0].HostID = 1<<32 - 10
		}, Options{}, `linux.uidMappings[0]: host range 4294967286+65536 overflows 32 bits`},
		{"root unmapped", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings[0].ContainerID = 1
		}, Options{}, `linux.uidMappings: container uid 0 is not mapped`},
		{"process uid unmapped", func(s *specs.Spec) {
			withUserNS(s)
			s.Process.User.UID = 70000
		}, Options{}, `process.user.uid: 70000 is not mapped in the user namespace`},
		{"additional gid unmapped", func(s *specs.Spec) {
			withUserNS(s)
			s.Process.User.AdditionalGids = []uint32{5, 70000}
		}, Options{}, `process.user.additionalGids[1]: 70000 is not mapped in the user namespace`},
		{"time offsets without timens", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, Options{}, `linux.timeOffsets: needs a new time namespace`},
		{"time offsets in joined timens", func(s *specs.Spec) {
			addNS(s, specs.TimeNamespace, "/proc/1/ns/time")
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, Options{}, `linux.timeOffsets: needs a new time namespace`},
		{"unknown clock", func(s *specs.Spec) {
			addNS(s, specs.TimeNamespace, "")
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}
		}, Options{}, `linux.timeOffsets["realtime"]: unknown clock (want "monotonic" or "boottime")`},
		{"nanosecs too big", func(s *specs.Spec) {
			addNS(s, specs.TimeNamespace, "")
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Nanosecs: 1e9}}
		}, Options{}, `linux.timeOffsets["boottime"].nanosecs: 1000000000 is not below one second`},
		{"hostname without uts", func(s *specs.Spec) { dropNS(s, specs.UTSNamespace) }, Options{},
			`hostname: needs a uts namespace`},
		{"domainname without uts", func(s *specs.Spec) {
			dropNS(s, specs.UTSNamespace)
			s.Hostname = ""
			s.Domainname = "example.org"
		}, Options{}, `domainname: needs a uts namespace`},
		{"net sysctl without netns", func(s *specs.Spec) {
			dropNS(s, specs.NetworkNamespace)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, Options{}, `linux.sysctl["net.ipv4.ip_forward"]: "net.ipv4.ip_forward" is not allowed in the host's network namespace`},
		{"net sysctl in host netns", func(s *specs.Spec) {
			s.Linux.Namespaces[1].Path = "/proc/self/ns/net"
			s.Linux.Sysctl = map[string]string{"net/ipv4/ip_forward": "1"}
		}, Options{}, `linux.sysctl["net/ipv4/ip_forward"]: "net.ipv4.ip_forward" is not allowed in the host's network namespace`},
		{"ipc sysctl without ipcns", func(s *specs.Spec) {
			dropNS(s, specs.IPCNamespace)
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1"}
		}, Options{}, `linux.sysctl["kernel.shmmax"]: "kernel.shmmax" is not allowed in the host's ipc namespace`},
		{"mqueue sysctl without ipcns", func(s *specs.Spec) {
			dropNS(s, specs.IPCNamespace)
			s.Linux.Sysctl = map[string]string{"fs.mqueue.msg_max": "1"}
		}, Options{}, `linux.sysctl["fs.mqueue.msg_max"]: "fs.mqueue.msg_max" is not allowed in the host's ipc namespace`},
		{"kernel.hostname", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.hostname": "x"}
		}, Options{}, `linux.sysctl["kernel.hostname"]: "kernel.hostname" conflicts with the "hostname" field; use that instead`},
		{"kernel.domainname without uts", func(s *specs.Spec) {
			dropNS(s, specs.UTSNamespace)
			s.Hostname = ""
			s.Linux.Sysctl = map[string]string{"kernel.domainname": "x"}
		}, Options{}, `linux.sysctl["kernel.domainname"]: "kernel.domainname" is not in a namespace of its own (it would change the host)`},
		{"host-wide sysctl", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"}
		}, Options{}, `linux.sysctl["vm.swappiness"]: "vm.swappiness" is not in a namespace of its own (it would change the host)`},
		{"sysctl escaping /proc/sys", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net/../../x": "1"}
		}, Options{}, `linux.sysctl["net/../../x"]: "net.//.//.x" is not a valid sysctl name`},
		{"sysctl given twice", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "net/ipv4/ip_forward": "0"}
		}, Options{}, `linux.sysctl["net/ipv4/ip_forward"]: "net.ipv4.ip_forward" is given twice`},
		{"device type", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "x"}}
		}, Options{}, `linux.devices[0].type: unknown device type "x" (want c, b, u or p)`},
		{"device relative", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/x", Type: "c"}}
		}, Options{}, `linux.devices[0].path: "dev/x" is not absolute`},
		{"device outside /dev", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/../etc/x", Type: "c"}}
		}, Options{}, `linux.devices[0].path: "/dev/../etc/x" is not under /dev`},
		{"device /dev itself", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev", Type: "c"}}
		}, Options{}, `linux.devices[0].path: "/dev" is not under /dev`},
		{"device twice", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}, {Path: "/dev//fuse", Type: "c"}}
		}, Options{}, `linux.devices[1].path: "/dev/fuse" given twice`},
		{"device negative", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "b", Major: -1}}
		}, Options{}, `linux.devices[0]: major and minor must not be negative`},
		{"masked path relative", func(s *specs.Spec) { s.Linux.MaskedPaths[3] = "proc/keys" }, Options{},
			`linux.maskedPaths[3]: "proc/keys" is not absolute`},
		{"readonly path relative", func(s *specs.Spec) { s.Linux.ReadonlyPaths[0] = "proc/bus" }, Options{},
			`linux.readonlyPaths[0]: "proc/bus" is not absolute`},
		{"root propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "rbind" }, Options{},
			`linux.rootfsPropagation: unknown propagation "rbind"`},
		{"private root without pivot_root", func(s *specs.Spec) { s.Linux.RootfsPropagation = "rprivate" }, Options{NoPivotRoot: true},
			`linux.rootfsPropagation: "rprivate" is not safe without pivot_root`},
		{"cgroup device access", func(s *specs.Spec) { s.Linux.Resources.Devices[0].Access = "" }, Options{},
			`linux.resources.devices[0].access: must not be empty`},
		{"cgroup device access letters", func(s *specs.Spec) { s.Linux.Resources.Devices[0].Access = "rwx" }, Options{},
			`linux.resources.devices[0].access: "rwx" has letters other than r, w and m`},
		{"cgroup device type", func(s *specs.Spec) { s.Linux.Resources.Devices[0].Type = "p" }, Options{},
			`linux.resources.devices[0].type: unknown device type "p" (want a, b or c)`},
		{"relative mount destination", func(s *specs.Spec) { s.Mounts[4].Destination = "foo" }, Options{},
			`mounts[4].destination: "foo" is not absolute`},
		{"empty mount destination", func(s *specs.Spec) { s.Mounts[0].Destination = "" }, Options{},
			`mounts[0].destination: must not be empty`},
		{"escaping mount destination", func(s *specs.Spec) { s.Mounts[4].Destination = "/../x" }, Options{},
			`mounts[4].destination: "/../x" escapes the root`},
		{"escaping deeper", func(s *specs.Spec) { s.Mounts[1].Destination = "/a/b/../../../etc" }, Options{},
			`mounts[1].destination: "/a/b/../../../etc" escapes the root`},
		{"nul in mount source", func(s *specs.Spec) { s.Mounts[0].Source = "pr\x00oc" }, Options{},
			`mounts[0].source: contains a NUL byte`},
		{"bind without source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind"})
		}, Options{}, `mounts[7].source: must not be empty for a bind mount`},
		{"idmap without bind", func(s *specs.Spec) {
			withUserNS(s)
			s.Mounts[3].Options = append(s.Mounts[3].Options, "idmap")
		}, Options{}, `mounts[3].options: id-mapped mounts must be bind mounts`},
		{"idmap without userns", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"rbind", "idmap"}})
		}, Options{}, `mounts[7].options: idmap without uidMappings/gidMappings needs a user namespace`},
		{"mount mappings without bind", func(s *specs.Spec) {
			s.Mounts[3].UIDMappings = []specs.LinuxIDMapping{{Size: 1}}
			s.Mounts[3].GIDMappings = []specs.LinuxIDMapping{{Size: 1}}
		}, Options{}, `mounts[3].uidMappings: id-mapped mounts must be bind mounts`},
		{"mount uid mappings alone", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Type: "bind",
				UIDMappings: []specs.LinuxIDMapping{{Size: 1}}})
		}, Options{}, `mounts[7].gidMappings: must be given along with uidMappings`},
		{"tmpcopyup on bind", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"bind", "tmpcopyup"}})
		}, Options{}, `mounts[7].options: tmpcopyup needs a tmpfs mount`},
		{"rootless without userns", func(s *specs.Spec) {}, Options{Rootless: true},
			`linux.namespaces: a rootless container needs a user namespace`},
		{"rootless unmapped gid option", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.GIDMappings[0].Size = 1
		}, Options{Rootless: true}, `mounts[2].options: gid=5 is not mapped in the user namespace`},
		{"rootless idmap", func(s *specs.Spec) {
			withUserNS(s)
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"rbind", "ridmap"}})
		}, Options{Rootless: true}, `mounts[7]: id-mapped mounts need root on the host`},
		{"no root", func(s *specs.Spec) { s.Root = nil }, Options{},
			`root: missing`},
		{"empty root path", func(s *specs.Spec) { s.Root.Path = "" }, Options{},
			`root.path: must not be empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ExampleSpec(false)
			tt.mutate(spec)
			c, err := ToConfig(spec, bundleWithRootfs(t), tt.opts)
			if err == nil {
				t.Fatalf("no error, got config %+v", c)
			}
			if c != nil {
				t.Errorf("config returned along with error %v", err)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestToConfigRootfs(t *testing.T) {
	bundle := t.TempDir()
	spec := ExampleSpec(false)

	_, err := ToConfig(spec, bundle, Options{})
	want := `root.path: "` + filepath.Join(bundle, "rootfs") + `" does not exist`
	if err == nil || err.Error() != want {
		t.Errorf("missing rootfs: got %v, want %s", err, want)
	}

	if err := os.WriteFile(filepath.Join(bundle, "rootfs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ToConfig(spec, bundle, Options{})
	want = `root.path: "` + filepath.Join(bundle, "rootfs") + `" is not a directory`
	if err == nil || err.Error() != want {
		t.Errorf("file rootfs: got %v, want %s", err, want)
	}

	abs := t.TempDir()
	spec.Root.Path = abs + "/./"
	c, err := ToConfig(spec, bundle, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Rootfs != abs {
		t.Errorf("Rootfs = %q, want %q", c.Rootfs, abs)
	}
}

// Accepted variations, each of which must convert cleanly.
func TestToConfigAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		opts   Options
	}{
		{"version 1.0.0", func(s *specs.Spec) { s.Version = "1.0.0" }, Options{}},
		{"version dev", func(s *specs.Spec) { s.Version = "1.0.2-dev" }, Options{}},
		{"version rc", func(s *specs.Spec) { s.Version = "1.0.0-rc5" }, Options{}},
		{"version build", func(s *specs.Spec) { s.Version = "1.2.1+dev" }, Options{}},
		{"joined userns, no mappings", func(s *specs.Spec) { addNS(s, specs.UserNamespace, "/proc/1/ns/user") }, Options{}},
		{"joined userns, with mappings", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.Namespaces[len(s.Linux.Namespaces)-1].Path = "/proc/1/ns/user"
		}, Options{}},
		{"joined mount ns", func(s *specs.Spec) { s.Linux.Namespaces[4].Path = "/proc/1/ns/mnt" }, Options{}},
		{"ipc sysctls", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1", "fs.mqueue.queues_max": "2", "kernel.domainname": "d"}
		}, Options{}},
		{"net sysctl in new netns", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.conf.all.rp_filter": "1"}
		}, Options{}},
		{"time offsets", func(s *specs.Spec) {
			addNS(s, specs.TimeNamespace, "")
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: -5}, "boottime": {Nanosecs: 999999999}}
		}, Options{}},
		{"rootless", func(s *specs.Spec) { toRootless(s, 1000, 1000) }, Options{Rootless: true}},
		{"rprivate with pivot_root", func(s *specs.Spec) { s.Linux.RootfsPropagation = "rprivate" }, Options{}},
		{"rslave without pivot_root", func(s *specs.Spec) { s.Linux.RootfsPropagation = "rslave" }, Options{NoPivotRoot: true}},
		{"no hostname, no uts", func(s *specs.Spec) { s.Hostname = ""; dropNS(s, specs.UTSNamespace) }, Options{}},
		{"relative destination climbing inside", func(s *specs.Spec) { s.Mounts[4].Destination = "/dev/x/../mqueue" }, Options{}},
		{"hooks", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/true", Timeout: ptr(5)}}} //nolint:staticcheck
		}, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ExampleSpec(false)
			tt.mutate(spec)
			if _, err := ToConfig(spec, bundleWithRootfs(t), tt.opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestToConfigDevices(t *testing.T) {
	spec := ExampleSpec(false)
	mode := os.FileMode(0o20660) // S_IFCHR|0660, as some generators write it
	spec.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: ptr(uint32(5)), GID: ptr(uint32(6))},
		{Path: "/dev/fifo", Type: "p"},
		{Path: "/dev/sda/", Type: "b", Major: 8},
	}
	c, err := ToConfig(spec, bundleWithRootfs(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, d := range c.Devices {
		paths = append(paths, d.Path)
	}
	// The spec's /dev/null replaces the default one.
	want := []string{"/dev/random", "/dev/full", "/dev/tty", "/dev/zero", "/dev/urandom", "/dev/null", "/dev/fifo", "/dev/sda"}
	if !slices.Equal(paths, want) {
		t.Fatalf("device paths %q, want %q", paths, want)
	}
	null := c.Devices[5]
	if null.Type != 'c' || null.Major != 1 || null.Minor != 3 || null.FileMode != 0o660 || null.UID != 5 || null.GID != 6 {
		t.Errorf("/dev/null %+v", null)
	}
	if fifo := c.Devices[6]; fifo.Type != 'p' || fifo.FileMode != 0o666 {
		t.Errorf("/dev/fifo %+v", fifo)
	}
}

func TestToConfigCopies(t *testing.T) {
	spec := ExampleSpec(false)
	spec.Annotations = map[string]string{"a": "b"}
	spec.Linux.CgroupsPath = "/skiff/x"
	spec.Linux.MountLabel = "system_u:object_r:container_file_t:s0"
	spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	spec.Linux.MaskedPaths = []string{"/proc//kcore/"}
	spec.Linux.Sysctl = map[string]string{"net/ipv4/conf/eth0.100/rp_filter": "1"}
	spec.Process.User = specs.User{UID: 1, GID: 2, AdditionalGids: []uint32{3}, Umask: ptr(uint32(0o27))}
	spec.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
	spec.Process.OOMScoreAdj = ptr(-1000)
	spec.Process.ApparmorProfile = "p"
	spec.Process.SelinuxLabel = "l"
	spec.Process.Cwd = "/home//u/"
	c, err := ToConfig(spec, bundleWithRootfs(t), Options{NoPivotRoot: true, NoNewKeyring: true})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Process
	if p.UID != 1 || p.GID != 2 || !slices.Equal(p.AdditionalGids, []uint32{3}) || *p.Umask != 0o27 ||
		p.ConsoleHeight != 24 || p.ConsoleWidth != 80 || *p.OOMScoreAdj != -1000 || p.ApparmorProfile != "p" ||
		p.SelinuxLabel != "l" || p.Cwd != "/home/u" {
		t.Errorf("process %+v", p)
	}
	if c.Annotations["a"] != "b" || c.CgroupsPath != "/skiff/x" || c.MountLabel != spec.Linux.MountLabel ||
		c.Seccomp != spec.Linux.Seccomp || !c.NoPivotRoot || !c.NoNewKeyring || c.Rootless {
		t.Errorf("config %+v", c)
	}
	if !slices.Equal(c.MaskedPaths, []string{"/proc/kcore"}) {
		t.Errorf("masked paths %q", c.MaskedPaths)
	}
	// Slash form becomes dotted form, with the '.' in "eth0.100" kept as '/'.
	if len(c.Sysctl) != 1 || c.Sysctl["net.ipv4.conf.eth0/100.rp_filter"] != "1" {
		t.Errorf("sysctl %v", c.Sysctl)
	}
}
