package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgStateResources reads the limits recorded in skiff's state: the
// container's config is kept in config.json next to state.json (older
// layouts had it in state.json under "config").
func cgStateResources(t *testing.T, c *ctr) *specs.LinuxResources {
	t.Helper()
	var cfg struct {
		Resources *specs.LinuxResources
	}
	dir := filepath.Join(c.Root, c.ID)
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	} else {
		var st struct {
			Config json.RawMessage `json:"config"`
		}
		if err = json.Unmarshal([]byte(readString(filepath.Join(dir, "state.json"))), &st); err == nil && st.Config != nil {
			err = json.Unmarshal(st.Config, &cfg)
		}
	}
	if err != nil {
		t.Fatalf("container state: %v", err)
	}
	if cfg.Resources == nil {
		t.Fatalf("no resources recorded in %s", dir)
	}
	return cfg.Resources
}

// `update` changes the cgroup files, seen from the host and from
// inside, and records the new limits, merged with the old ones.
func TestUpdate(t *testing.T) {
	c := cgStarted(t, []string{"sleep", "600"}, func(s *specs.Spec) {
		withCgroupNS(s)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptrTo(int64(64 << 20))}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: ptrTo(uint64(1024))}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptrTo(int64(32))}
	})
	dirs := cgDirs(t, c.mustState().Pid)
	swap := hostHasSwapAccounting()
	args := []string{"update", "--memory", "100m", "--memory-reservation", "10m", "--cpu-share", "512",
		"--cpu-quota", "20000", "--cpu-period", "100000", "--pids-limit", "20", "--cpuset-cpus", "0", "--cpuset-mems", "0"}
	if swap {
		args = append(args, "--memory-swap", "200m")
	}
	c.mustRun(append(args, c.ID)...)
	cgExpect(t, c, dirs, "memory", "memory.limit_in_bytes", "104857600", "memory.max", "104857600")
	cgExpect(t, c, dirs, "memory", "memory.soft_limit_in_bytes", "10485760", "memory.low", "10485760")
	if swap {
		// v2 keeps swap alone, v1 memory+swap.
		cgExpect(t, c, dirs, "memory", "memory.memsw.limit_in_bytes", "209715200", "memory.swap.max", "104857600")
	}
	cgExpect(t, c, dirs, "cpu", "cpu.shares", "512", "cpu.weight", cpuWeight512)
	cgExpect(t, c, dirs, "cpu", "cpu.cfs_quota_us", "20000", "cpu.max", "20000 100000")
	cgExpect(t, c, dirs, "pids", "pids.max", "20", "pids.max", "20")
	cgExpect(t, c, dirs, "cpuset", "cpuset.cpus", "0", "cpuset.cpus", "0")
	res := cgStateResources(t, c)
	if *res.Memory.Limit != 100<<20 || *res.Memory.Reservation != 10<<20 || *res.CPU.Shares != 512 ||
		*res.CPU.Quota != 20000 || *res.CPU.Period != 100000 || *res.Pids.Limit != 20 || res.CPU.Cpus != "0" {
		t.Errorf("state after update: memory %+v cpu %+v pids %+v", res.Memory, res.CPU, res.Pids)
	}
	if swap && *res.Memory.Swap != 200<<20 {
		t.Errorf("state swap %d", *res.Memory.Swap)
	}

	if _, ok := cgFile(dirs, "cpu", "cpu.cfs_burst_us", "cpu.max.burst"); ok {
		c.mustRun("update", "--cpu-burst", "1000", c.ID)
		cgExpect(t, c, dirs, "cpu", "cpu.cfs_burst_us", "1000", "cpu.max.burst", "1000")
	}
	if _, ok := cgFile(dirs, "cpu", "cpu.rt_runtime_us", ""); ok {
		c.mustRun("update", "--cpu-rt-period", "1000000", "--cpu-rt-runtime", "1000", c.ID)
		cgExpect(t, c, dirs, "cpu", "cpu.rt_period_us", "1000000", "", "")
		cgExpect(t, c, dirs, "cpu", "cpu.rt_runtime_us", "1000", "", "")
	}
	weight, want, ok := blkioWeightFile(dirs, 500)
	if r := c.run("update", "--blkio-weight", "500", c.ID); ok {
		if got := readTrim(weight.host); r.Code != 0 || !strings.Contains(got, want) {
			t.Errorf("update --blkio-weight: %s\n%s = %q, want %q", r, weight.host, got, want)
		}
	} else if r.Code != 1 || !strings.Contains(r.Stderr, "--blkio-weight: not supported") {
		// Without a proportional I/O scheduler there is no weight file;
		// runc then says nothing and sets nothing.
		t.Errorf("update --blkio-weight without a weight file: %s", r)
	}

	// -r: a LinuxResources document; the flags are then ignored.
	file := filepath.Join(t.TempDir(), "resources.json")
	if err := os.WriteFile(file, []byte(`{"memory":{"limit":50000000},"pids":{"limit":30}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustRun("update", "-r", file, "--pids-limit", "5", c.ID)
	cgExpect(t, c, dirs, "memory", "memory.limit_in_bytes", "49999872", "memory.max", "49999872")
	cgExpect(t, c, dirs, "pids", "pids.max", "30", "pids.max", "30")
	res = cgStateResources(t, c)
	if *res.Memory.Limit != 50000000 || *res.Pids.Limit != 30 || *res.Memory.Reservation != 10<<20 || *res.CPU.Shares != 512 {
		t.Errorf("state after update -r: memory %+v cpu %+v pids %+v", res.Memory, res.CPU, res.Pids)
	}

	c.mustRun("update", "--pids-limit", "-1", c.ID)
	cgExpect(t, c, dirs, "pids", "pids.max", "max", "pids.max", "max")
	c.mustRun("update", "--memory", "-1", c.ID)
	cgExpect(t, c, dirs, "memory", "memory.limit_in_bytes", "9223372036854771712", "memory.max", "max")
}

// Bad values, values this host cannot apply and limits the kernel
// refuses are errors, and leave files and state as they were.
func TestUpdateErrors(t *testing.T) {
	c := cgStarted(t, []string{"sleep", "600"}, func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptrTo(int64(64 << 20))}
	})
	dirs := cgDirs(t, c.mustState().Pid)
	limit, _ := cgFile(dirs, "memory", "memory.limit_in_bytes", "memory.max")
	write := func(content string) string {
		f := filepath.Join(t.TempDir(), "r.json")
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "abc"}, "invalid value for memory: invalid size: 'abc'"},
		{[]string{"--cpu-share", "x"}, "invalid value for cpu-share: strconv.ParseUint: parsing"},
		{[]string{"--cpu-quota", "1.5"}, "invalid value for cpu-quota"},
		{[]string{"--kernel-memory", "1m"}, "--kernel-memory: kernel memory limits are not supported"},
		{[]string{"--l3-cache-schema", "L3:0=f"}, "l3"},
		{[]string{"--mem-bw-schema", "MB:0=50"}, "m"},
		{[]string{"-r", write(`{"devices":[{"allow":true,"access":"rwm"}]}`)}, "devices: update cannot change device rules"},
		{[]string{"-r", write(`{"memory":{"limit":"x"}}`)}, "json: cannot unmarshal string"},
		{[]string{"-r", write(`{"memory":{"kernel":1}}`)}, "memory.kernel: kernel memory limits are not supported"},
		{[]string{"-r", "/nonexistent/r.json"}, "open /nonexistent/r.json: no such file or directory"},
	}
	if _, ok := cgFile(dirs, "hugetlb", "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max"); !ok {
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"-r", write(`{"hugepageLimits":[{"pageSize":"2MB","limit":0}]}`)}, "hugepageLimits[0]: "})
	}
	if dirs["memory"] != "" {
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"-r", write(`{"unified":{"memory.max":"1"}}`)}, "unified: "})
	}
	for _, tc := range cases {
		r := c.run(append(append([]string{"update"}, tc.args...), c.ID)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("update %v: %s\nwant exit 1 and %q", tc.args, r, tc.want)
		}
	}
	if rdt := readString("/proc/self/mountinfo"); !strings.Contains(rdt, " resctrl ") {
		r := c.run("update", "--l3-cache-schema", "L3:0=f", c.ID)
		if !strings.Contains(r.Stderr, "Intel RDT/CAT: l3 cache schema is not enabled") {
			t.Errorf("l3-cache-schema without RDT: %s", r)
		}
	}

	// A limit below the current usage: v1 refuses it; v2 only with
	// checkBeforeUpdate (it would reclaim, then OOM-kill, otherwise).
	// The texts are the cgroup library's (runc's): v1's is the kernel
	// refusing the write, v2's the library's own check.
	refuse, want := []string{"--memory", "4096"}, "unable to set memory limit to 4096"
	if dirs["memory"] == "" {
		refuse = []string{"-r", write(`{"memory":{"limit":4096,"checkBeforeUpdate":true}}`)}
		want = "rejecting memory limit 4096 <= usage "
	}
	before := readTrim(limit.host)
	r := c.run(append(append([]string{"update"}, refuse...), c.ID)...)
	if r.Code != 1 || !strings.Contains(r.Stderr, want) {
		t.Errorf("update %v: %s", refuse, r)
	}
	if got := readTrim(limit.host); got != before {
		t.Errorf("%s changed from %s to %s by a failed update", limit.host, before, got)
	}
	if res := cgStateResources(t, c); *res.Memory.Limit != 64<<20 || res.Pids != nil {
		t.Errorf("state changed by failed updates: memory %+v pids %+v", res.Memory, res.Pids)
	}

	if r := c.run("update", "--memory", "1m", "skt-no-such-container"); r.Code != 1 || !strings.Contains(r.Stderr, "container does not exist") {
		t.Errorf("update of a missing container: %s", r)
	}
	pid := c.mustState().Pid
	c.mustRun("kill", c.ID, "KILL")
	if _, err := waitExit(pid, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if r := c.run("update", "--memory", "100m", c.ID); r.Code != 1 || !strings.Contains(r.Stderr, "container not running") {
		t.Errorf("update of a stopped container: %s", r)
	}
}

// blkioWeightFile is where a blockIO weight w goes, and what that file
// then reads, in the order the cgroup library tries them: v1
// blkio.weight, else blkio.bfq.weight; v2 io.bfq.weight (BFQ), else
// io.weight (blk-iocost) with the weight mapped from [10, 1000] to
// [1, 10000].
func blkioWeightFile(dirs map[string]string, w uint64) (cgSetting, string, bool) {
	if f, ok := cgFile(dirs, "blkio", "blkio.weight", "io.bfq.weight"); ok {
		if f.v2 {
			return f, fmt.Sprintf("default %d", w), true
		}
		return f, fmt.Sprint(w), true
	}
	if f, ok := cgFile(dirs, "blkio", "blkio.bfq.weight", "io.weight"); ok {
		if f.v2 {
			return f, fmt.Sprintf("default %d", 1+(w-10)*9999/990), true
		}
		return f, fmt.Sprint(w), true
	}
	return cgSetting{}, "", false
}
