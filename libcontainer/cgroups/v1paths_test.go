package cgroups

import (
	"maps"
	"reflect"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
)

// The paths skiff computes are the ones the library's fs manager would:
// state.json of containers made either way, and the library's own
// operations on them, must agree.
func TestV1PathsMatchLibrary(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("cgroup v2 host: the fs manager is not used")
	}
	for _, cg := range []cgroups.Cgroup{
		{Path: "/skiff-test/a"},
		{Path: "/x/../../y//z/"},
		{Path: "skiff-test/rel"},
		{Path: "../../escape"},
		{Name: "ctr"},
		{Parent: "p/../q", Name: "n"},
	} {
		cg.Resources = &cgroups.Resources{}
		lib, err := fs.NewManager(&cg, nil)
		if err != nil {
			t.Fatalf("%+v: library: %v", cg, err)
		}
		got, err := v1Paths(&cg)
		if err != nil {
			t.Fatalf("%+v: %v", cg, err)
		}
		if want := lib.GetPaths(); !maps.Equal(got, want) {
			t.Errorf("%+v:\n got %v\nwant %v", cg, got, want)
		}
	}
}

func TestParseCgroupV1Mounts(t *testing.T) {
	mi := `25 1 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw
33 30 0:29 /sub /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/with\040space rw shared:14 - cgroup cgroup rw,name=systemd
35 30 0:31 / /sys/fs/cgroup/cgroupish rw - cgroupfoo x rw,devices
`
	got, err := parseCgroupV1Mounts([]byte(mi))
	if err != nil {
		t.Fatal(err)
	}
	want := []cgroupV1Mount{
		{mountpoint: "/sys/fs/cgroup/cpu,cpuacct", root: "/sub", options: []string{"rw", "cpu", "cpuacct"}},
		{mountpoint: "/sys/fs/cgroup/with space", root: "/", options: []string{"rw", "name=systemd"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := parseCgroupV1Mounts([]byte("1 2 - cgroup cgroup\n")); err == nil {
		t.Error("a malformed line was accepted")
	}
}

func TestInnerPath(t *testing.T) {
	for _, c := range []struct {
		cg   cgroups.Cgroup
		want string
	}{
		{cgroups.Cgroup{Path: "/a/../b/"}, "/b"},
		{cgroups.Cgroup{Path: "../../a/b"}, "a/b"},
		{cgroups.Cgroup{Name: "id"}, "id"},
		{cgroups.Cgroup{Parent: "/p", Name: "../n"}, "/p/n"},
	} {
		if got := innerPath(&c.cg); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.cg, got, c.want)
		}
	}
}
