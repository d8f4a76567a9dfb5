package cgroups

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

func ptr[T any](v T) *T { return &v }

func TestConvertResources(t *testing.T) {
	r := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr(int64(10)), Minor: ptr(int64(229)), Access: "rw"},
			{Allow: true, Type: "b", Major: ptr(int64(8)), Access: "r"},
		},
		Memory: &specs.LinuxMemory{
			Limit: ptr(int64(1 << 30)), Reservation: ptr(int64(1 << 29)), Swap: ptr(int64(2 << 30)),
			Swappiness: ptr(uint64(10)), DisableOOMKiller: ptr(true),
		},
		CPU: &specs.LinuxCPU{
			Shares: ptr(uint64(512)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000)),
			Cpus: "0-1", Mems: "0", Idle: ptr(int64(1)),
		},
		Pids: &specs.LinuxPids{Limit: ptr(int64(100))},
		BlockIO: &specs.LinuxBlockIO{
			Weight: ptr(uint16(300)),
			WeightDevice: []specs.LinuxWeightDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr(uint16(200))},
			},
			ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1000},
			},
		},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}},
		Network: &specs.LinuxNetwork{
			ClassID:    ptr(uint32(7)),
			Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 3}},
		},
	}
	res, err := ConvertResources(r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Memory != 1<<30 || res.MemoryReservation != 1<<29 || res.MemorySwap != 2<<30 ||
		*res.MemorySwappiness != 10 || !res.OomKillDisable {
		t.Errorf("memory: %+v", res)
	}
	if res.CpuShares != 512 || res.CpuQuota != 50000 || res.CpuPeriod != 100000 ||
		res.CpusetCpus != "0-1" || res.CpusetMems != "0" || *res.CPUIdle != 1 {
		t.Errorf("cpu: %+v", res)
	}
	if *res.PidsLimit != 100 {
		t.Errorf("pids limit %d", *res.PidsLimit)
	}
	if res.BlkioWeight != 300 || res.BlkioWeightDevice[0].WeightString() != "8:0 200" ||
		res.BlkioThrottleReadBpsDevice[0].String() != "8:0 1000" {
		t.Errorf("blkio: %+v", res)
	}
	if len(res.HugetlbLimit) != 1 || res.HugetlbLimit[0].Pagesize != "2MB" {
		t.Errorf("hugetlb: %+v", res.HugetlbLimit)
	}
	if res.NetClsClassid != 7 || res.NetPrioIfpriomap[0].CgroupString() != "eth0 3" {
		t.Errorf("network: %+v", res)
	}

	var rules []string
	for _, d := range res.Devices {
		s := d.CgroupString()
		if !d.Allow {
			s = "deny " + s
		}
		rules = append(rules, s)
	}
	want := []string{"deny a *:* rwm", "c 10:229 rw", "b 8:* r", "c *:* m", "b *:* m", "c 1:3 rwm"}
	if !slices.Equal(rules[:len(want)], want) || len(rules) != 3+len(defaultDeviceRules) {
		t.Errorf("device rules:\n got %q\nwant prefix %q", rules, want)
	}
}

func TestConvertResourcesNil(t *testing.T) {
	res, err := ConvertResources(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Devices) != len(defaultDeviceRules) || res.PidsLimit != nil || res.Memory != 0 {
		t.Errorf("nil resources: %+v", res)
	}
}

func TestConvertPidsUnlimited(t *testing.T) {
	for _, in := range []int64{0, -1} {
		res, err := ConvertResources(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &in}})
		if err != nil || *res.PidsLimit != -1 {
			t.Errorf("limit %d: got %v, %v", in, res.PidsLimit, err)
		}
	}
}

func TestConvertDeviceErrors(t *testing.T) {
	for _, tc := range []struct {
		rule specs.LinuxDeviceCgroup
		want string
	}{
		{specs.LinuxDeviceCgroup{Type: "x", Access: "r"}, `linux.resources.devices[0].type: unknown device type "x"`},
		{specs.LinuxDeviceCgroup{Type: "c"}, `linux.resources.devices[0].access: "" is not a combination of r, w and m`},
		{specs.LinuxDeviceCgroup{Access: "rx"}, `linux.resources.devices[0].access: "rx" is not a combination of r, w and m`},
	} {
		_, err := ConvertResources(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{tc.rule}})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: got %v, want %s", tc.rule, err, tc.want)
		}
	}
}

func TestProcsDir(t *testing.T) {
	for _, tc := range []struct {
		paths map[string]string
		want  string
	}{
		{map[string]string{"": "/u/x"}, "/u/x"},
		{map[string]string{"": "/u/x", "cpu": "/c/x", "pids": "/p/x", "devices": "/d/x"}, "/p/x"},
		{map[string]string{"": "/u/x", "cpu": "/c/x", "devices": "/d/x"}, "/d/x"},
		{map[string]string{"cpu": "/c/x", "blkio": "/b/x"}, "/b/x"},
		{nil, ""},
	} {
		if got := procsDir(tc.paths); got != tc.want {
			t.Errorf("procsDir(%v) = %q, want %q", tc.paths, got, tc.want)
		}
	}
}

func TestIsFrozen(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v1 := map[string]string{"freezer": dir, "": "/nonexistent"}
	v2 := map[string]string{"": dir}
	write("freezer.state", "THAWED\n")
	write("cgroup.freeze", "0\n")
	if IsFrozen(v1) || IsFrozen(v2) {
		t.Error("thawed reported frozen")
	}
	write("freezer.state", "FROZEN\n")
	write("cgroup.freeze", "1\n")
	if !IsFrozen(v1) || !IsFrozen(v2) {
		t.Error("frozen reported thawed")
	}
	if IsFrozen(nil) || IsFrozen(map[string]string{"freezer": "/nonexistent"}) {
		t.Error("missing cgroup reported frozen")
	}
}

func TestLoadNoPaths(t *testing.T) {
	m := Load(nil)
	if err := m.Destroy(); err != nil {
		t.Error(err)
	}
	if pids, err := m.Pids(); err != nil || pids != nil {
		t.Errorf("Pids() = %v, %v", pids, err)
	}
	if m.Exists() || m.Frozen() {
		t.Error("no cgroup exists")
	}
}

func TestSystemdNotRunning(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd is running")
	}
	_, err := New("x", &configs.Config{}, true, false)
	if err != ErrSystemdNotRunning {
		t.Fatalf("got %v", err)
	}
}

// TestRealCgroup creates, fills, limits, freezes and removes a cgroup
// of its own, named skifftest-<random> at the top of every hierarchy.
func TestRealCgroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "/skifftest-" + hex.EncodeToString(b[:])
	cfg := &configs.Config{
		CgroupsPath: name,
		Resources: &specs.LinuxResources{
			Pids:    &specs.LinuxPids{Limit: ptr(int64(42))},
			Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		},
	}
	m, err := New("x", cfg, false, false)
	if err != nil {
		t.Fatal(err)
	}
	// Every path must be ours before anything is created.
	for c, p := range m.Paths() {
		if !strings.HasSuffix(p, name) {
			t.Fatalf("path for %q is %s, not ours", c, p)
		}
	}
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if err := Load(m.Paths()).Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(nil); err != nil {
		t.Fatal(err)
	}
	paths := m.Paths()
	if p := paths["pids"]; p != "" {
		data, err := os.ReadFile(filepath.Join(p, "pids.max"))
		if err != nil || strings.TrimSpace(string(data)) != "42" {
			t.Errorf("pids.max = %q, %v", data, err)
		}
	}
	if p := paths["devices"]; p != "" {
		data, _ := os.ReadFile(filepath.Join(p, "devices.list"))
		if !strings.Contains(string(data), "c 1:3 rwm") || strings.Contains(string(data), "a *:* rwm") {
			t.Errorf("devices.list:\n%s", data)
		}
	}

	l := Load(paths)
	pids, err := l.Pids()
	if err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("Pids() = %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
	if _, ok := paths["freezer"]; ok || cgroups.IsCgroup2UnifiedMode() {
		if err := l.Freeze(); err != nil {
			t.Fatal(err)
		}
		if !l.Frozen() {
			t.Error("not frozen after Freeze")
		}
		if err := l.Thaw(); err != nil {
			t.Fatal(err)
		}
		if l.Frozen() {
			t.Error("frozen after Thaw")
		}
	}

	// Destroy right after the process died must not fail with EBUSY.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	for c, p := range paths {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%q cgroup %s still there: %v", c, p, err)
		}
	}
	if l.Exists() {
		t.Error("Exists() after Destroy")
	}
}
