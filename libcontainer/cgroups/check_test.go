package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeCgroup makes a directory holding the named (empty) files.
func fakeCgroup(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCheckResources(t *testing.T) {
	v1 := map[string]string{
		"memory":  fakeCgroup(t, "memory.limit_in_bytes", "memory.soft_limit_in_bytes"),
		"cpu":     fakeCgroup(t, "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"),
		"pids":    fakeCgroup(t, "pids.max"),
		"blkio":   fakeCgroup(t, "blkio.bfq.weight"),
		"cpuset":  fakeCgroup(t, "cpuset.cpus", "cpuset.mems"),
		"hugetlb": fakeCgroup(t, "hugetlb.2MB.limit_in_bytes"),
		"":        fakeCgroup(t),
	}
	v2 := map[string]string{"": fakeCgroup(t, "memory.max", "memory.low", "cpu.weight", "cpu.max", "pids.max", "io.weight", "hugetlb.2MB.max")}
	ok := &specs.LinuxResources{
		Memory:         &specs.LinuxMemory{Limit: ptr(int64(1)), Reservation: ptr(int64(1)), Swap: ptr(int64(0))},
		CPU:            &specs.LinuxCPU{Shares: ptr(uint64(2)), Quota: ptr(int64(3)), Period: ptr(uint64(4)), RealtimeRuntime: ptr(int64(0))},
		Pids:           &specs.LinuxPids{Limit: ptr(int64(0))},
		BlockIO:        &specs.LinuxBlockIO{Weight: ptr(uint16(10))},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}},
	}
	for name, paths := range map[string]map[string]string{"v1": v1, "v2": v2} {
		if err := checkResources(paths, ok, name == "v2"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, tc := range []struct {
		name    string
		paths   map[string]string
		unified bool
		r       specs.LinuxResources
		field   string
		reason  string
	}{
		{"v1 swap without memsw", v1, false, specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr(int64(5))}}, "memory.swap", "memory.memsw.limit_in_bytes"},
		{"v1 no rt", v1, false, specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimePeriod: ptr(uint64(5))}}, "cpu.realtimePeriod", "cpu.rt_period_us"},
		{"v1 no net_cls", v1, false, specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr(uint32(1))}}, "network.classID", "no net_cls cgroup"},
		{"v1 unified", v1, false, specs.LinuxResources{Unified: map[string]string{"memory.max": "1"}}, "unified", "cgroup v2"},
		{"v1 kernel", v1, false, specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: ptr(int64(5))}}, "memory.kernelTCP", "kernel memory"},
		{"v1 1GB pages", v1, false, specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}, {Pagesize: "1GB"}}}, "hugepageLimits[1]", "hugetlb.1GB.limit_in_bytes"},
		{"v2 swappiness", v2, true, specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr(uint64(5))}}, "memory.swappiness", "cgroup v2"},
		{"v2 no cpuset", v2, true, specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}, "cpu.cpus", "cpuset.cpus"},
		{"v2 unified key", v2, true, specs.LinuxResources{Unified: map[string]string{"pids.max": "1", "nope.max": "2"}}, "unified.nope.max", "does not exist"},
		{"v2 unified path", v2, true, specs.LinuxResources{Unified: map[string]string{"../x": "1"}}, "unified.../x", "not a cgroup file"},
	} {
		err := checkResources(tc.paths, &tc.r, tc.unified)
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.Field != tc.field || !strings.Contains(ue.Reason, tc.reason) {
			t.Errorf("%s: got %v, want %s: ...%s...", tc.name, err, tc.field, tc.reason)
		}
	}
}

func TestReadKeyValues(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "memory.events")
	if err := os.WriteFile(p, []byte("low 0\nhigh 1\nmax 2\noom 3\noom_kill 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kv, err := readKeyValues(p)
	if err != nil || kv["oom_kill"] != 4 || kv["high"] != 1 || len(kv) != 5 {
		t.Errorf("got %v, %v", kv, err)
	}
	if err := os.WriteFile(p, []byte("oom x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readKeyValues(p); err == nil {
		t.Error("malformed file accepted")
	}
}
