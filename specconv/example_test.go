package specconv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

func TestExampleRoundTrip(t *testing.T) {
	for _, cgroupNS := range []bool{false, true} {
		bundle := bundleWithRootfs(t)
		spec := ExampleSpec(cgroupNS)

		// Through config.json and back, as `skiff spec` then `skiff run` would.
		data, err := json.MarshalIndent(spec, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		loaded, err := LoadSpec(bundle)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(loaded, spec) {
			t.Fatalf("spec changed through JSON:\n%+v\n%+v", loaded, spec)
		}

		c, err := ToConfig(loaded, bundle, Options{})
		if err != nil {
			t.Fatalf("cgroupNS=%v: %v", cgroupNS, err)
		}
		checkExampleConfig(t, c, bundle, cgroupNS)
	}
}

func checkExampleConfig(t *testing.T, c *configs.Config, bundle string, cgroupNS bool) {
	t.Helper()
	if c.Rootfs != filepath.Join(bundle, "rootfs") || !c.RootReadonly {
		t.Errorf("rootfs %q readonly=%v", c.Rootfs, c.RootReadonly)
	}
	if c.OCIVersion != specs.Version || c.Hostname != "skiff" {
		t.Errorf("version %q hostname %q", c.OCIVersion, c.Hostname)
	}
	wantNS := []configs.NamespaceType{configs.NEWPID, configs.NEWNET, configs.NEWIPC, configs.NEWUTS, configs.NEWNS}
	if cgroupNS {
		wantNS = append(wantNS, configs.NEWCGROUP)
	}
	var gotNS []configs.NamespaceType
	for _, ns := range c.Namespaces {
		gotNS = append(gotNS, ns.Type)
		if ns.Path != "" {
			t.Errorf("namespace %s has path %q", ns.Type, ns.Path)
		}
	}
	if !slices.Equal(gotNS, wantNS) {
		t.Errorf("namespaces %v, want %v", gotNS, wantNS)
	}

	p := c.Process
	if !slices.Equal(p.Args, []string{"sh"}) || p.Cwd != "/" || !p.Terminal || !p.NoNewPrivileges || p.UID != 0 || p.GID != 0 {
		t.Errorf("process %+v", p)
	}
	if !slices.Equal(p.Rlimits, []configs.Rlimit{{Type: unix.RLIMIT_NOFILE, Soft: 1024, Hard: 1024}}) {
		t.Errorf("rlimits %+v", p.Rlimits)
	}
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	if p.Capabilities == nil || !slices.Equal(p.Capabilities.Bounding, caps) || !slices.Equal(p.Capabilities.Effective, caps) ||
		!slices.Equal(p.Capabilities.Permitted, caps) || p.Capabilities.Inheritable != nil || p.Capabilities.Ambient != nil {
		t.Errorf("capabilities %+v", p.Capabilities)
	}
	if p.Spec == nil || c.Spec == nil {
		t.Error("original spec not kept")
	}

	wantMounts := []configs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC,
			Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV,
			Data: "mode=1777,size=65536k"},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
			Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RELATIME | unix.MS_RDONLY},
	}
	if !reflect.DeepEqual(c.Mounts, wantMounts) {
		t.Errorf("mounts\n got %+v\nwant %+v", c.Mounts, wantMounts)
	}
	if !reflect.DeepEqual(c.Devices, DefaultDevices()) {
		t.Errorf("devices %+v", c.Devices)
	}
	if len(c.MaskedPaths) != 11 || len(c.ReadonlyPaths) != 5 {
		t.Errorf("masked %q readonly %q", c.MaskedPaths, c.ReadonlyPaths)
	}
	if c.Resources == nil || len(c.Resources.Devices) != 1 || c.Resources.Devices[0].Access != "rwm" {
		t.Errorf("resources %+v", c.Resources)
	}
	if c.UIDMappings != nil || c.GIDMappings != nil || c.Sysctl != nil || c.TimeOffsets != nil {
		t.Errorf("unexpected user/sysctl/time settings")
	}
}

func TestExampleIsFresh(t *testing.T) {
	a := ExampleSpec(false)
	a.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	a.Mounts[0].Destination = "/x"
	b := ExampleSpec(false)
	if b.Process.Capabilities.Bounding[0] != "CAP_AUDIT_WRITE" || b.Process.Capabilities.Effective[0] != "CAP_AUDIT_WRITE" || b.Mounts[0].Destination != "/proc" {
		t.Error("Example specs share state")
	}
}

func TestToRootless(t *testing.T) {
	spec := ExampleSpec(true)
	toRootless(spec, 1000, 1001)

	var types []specs.LinuxNamespaceType
	for _, ns := range spec.Linux.Namespaces {
		types = append(types, ns.Type)
	}
	want := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace,
		specs.CgroupNamespace, specs.UserNamespace}
	if !slices.Equal(types, want) {
		t.Errorf("namespaces %v, want %v", types, want)
	}
	if !slices.Equal(spec.Linux.UIDMappings, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}) ||
		!slices.Equal(spec.Linux.GIDMappings, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}}) {
		t.Errorf("mappings %+v %+v", spec.Linux.UIDMappings, spec.Linux.GIDMappings)
	}
	if spec.Linux.Resources != nil {
		t.Error("resources kept")
	}
	sys := spec.Mounts[5]
	if sys.Destination != "/sys" || sys.Type != "none" || sys.Source != "/sys" ||
		!slices.Equal(sys.Options, []string{"rbind", "nosuid", "noexec", "nodev", "ro"}) {
		t.Errorf("/sys mount %+v", sys)
	}
	if !slices.Equal(spec.Mounts[2].Options, []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}) {
		t.Errorf("devpts options %q", spec.Mounts[2].Options)
	}
	// runc keeps the cgroup mount: it is read-only and harmless.
	if len(spec.Mounts) != 7 || spec.Mounts[6].Destination != "/sys/fs/cgroup" {
		t.Errorf("mounts %+v", spec.Mounts)
	}

	// Converting twice must not add a second user namespace.
	toRootless(spec, 1000, 1001)
	if n := len(spec.Linux.Namespaces); n != len(want) {
		t.Errorf("%d namespaces after a second conversion", n)
	}

	c, err := ToConfig(spec, bundleWithRootfs(t), Options{Rootless: true})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Rootless || !c.Mounts[5].Bind || !c.Mounts[5].Recursive {
		t.Errorf("rootless config %+v", c)
	}
}

func TestExampleMatchesHost(t *testing.T) {
	if !reflect.DeepEqual(Example(), ExampleSpec(isCgroup2Unified())) {
		t.Error("Example() differs from ExampleSpec for this host")
	}
	spec := ExampleSpec(false)
	ToRootless(spec)
	if spec.Linux.UIDMappings[0].HostID != uint32(os.Geteuid()) || spec.Linux.GIDMappings[0].HostID != uint32(os.Getegid()) {
		t.Errorf("ToRootless mappings %+v %+v", spec.Linux.UIDMappings, spec.Linux.GIDMappings)
	}
}
