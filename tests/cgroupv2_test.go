package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Tests of what only a pure cgroup v2 host has: cgroup.freeze,
// cgroup.kill, the eBPF device filter, the unified files and their
// conversions. On a v1 or hybrid host they skip; `make test-cgroupv2`
// runs them in a VM booted with cgroup_no_v1=all (and again under
// systemd).

// requireCgroupV2 skips t unless /sys/fs/cgroup is the unified
// hierarchy alone.
func requireCgroupV2(t *testing.T) {
	t.Helper()
	requireSetup(t)
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skip("needs a pure cgroup v2 host (/sys/fs/cgroup is not a cgroup2 mount here); make test-cgroupv2 runs this in a VM")
	}
}

// cgV2Dir is the container's cgroup directory, from its init's
// /proc/PID/cgroup.
func cgV2Dir(t *testing.T, c *ctr) string {
	t.Helper()
	dir := cgDirs(t, c.mustState().Pid)[""]
	if dir == "" {
		t.Fatalf("container %s has no cgroup v2 directory", c.ID)
	}
	return dir
}

// cgProcs lists the processes of a cgroup and its sub-cgroups.
func cgProcs(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		for _, f := range strings.Fields(readString(filepath.Join(path, "cgroup.procs"))) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids
}

// cgEvent reads one key of a cgroup's cgroup.events ("populated",
// "frozen").
func cgEvent(dir, key string) string {
	for _, line := range strings.Split(readString(filepath.Join(dir, "cgroup.events")), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return v
		}
	}
	return ""
}

// subCgroupWith makes a sub-cgroup of dir and moves pid into it, as a
// container manager (or the container itself, with a writable cgroup
// mount) may. The cgroup of a container has no controllers enabled
// below it, so it may hold processes and children at once.
func subCgroupWith(t *testing.T, dir, name string, pid int) string {
	t.Helper()
	sub := filepath.Join(dir, name)
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// Runs before the container's cleanup: the directory is then
	// removed already (by delete), or empty.
	t.Cleanup(func() { _ = os.Remove(sub) })
	if err := os.WriteFile(filepath.Join(sub, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		t.Fatalf("moving %d into %s: %v", pid, sub, err)
	}
	return sub
}

// waitProc waits until a process of dir (or its sub-cgroups) runs the
// command line args, and returns its pid.
func waitProc(t *testing.T, dir string, args ...string) int {
	t.Helper()
	want := strings.Join(args, "\x00") + "\x00"
	pid := 0
	if !waitFor(15*time.Second, func() bool {
		for _, p := range cgProcs(dir) {
			if readString(fmt.Sprintf("/proc/%d/cmdline", p)) == want {
				pid = p
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no %q in %s (it holds %v)", args, dir, cgProcs(dir))
	}
	return pid
}

// waitPids waits until dir (with its sub-cgroups) holds at least n
// processes, and returns them.
func waitPids(t *testing.T, dir string, n int) []int {
	t.Helper()
	var pids []int
	if !waitFor(15*time.Second, func() bool { pids = cgProcs(dir); return len(pids) >= n }) {
		t.Fatalf("%s holds %v, want at least %d processes", dir, pids, n)
	}
	return pids
}

// pause writes cgroup.freeze and waits until cgroup.events says
// "frozen 1": every process of the cgroup (sub-cgroups included) is
// stopped in the kernel, and state says "paused".
func TestCgroupV2Freeze(t *testing.T) {
	requireCgroupV2(t)
	c := cgStarted(t, []string{"sh", "-c", `sleep 600 & i=0; while :; do i=$((i+1)); echo $i > /counter; sleep 0.05; done`}, nil)
	dir := cgV2Dir(t, c)
	counter := filepath.Join(c.Rootfs, "counter")
	if !waitFor(15*time.Second, func() bool { return readTrim(counter) != "" }) {
		t.Fatal("the container never wrote /counter")
	}
	sub := subCgroupWith(t, dir, "sub", waitProc(t, dir, "sleep", "600"))

	c.mustRun("pause", c.ID)
	if got := readTrim(filepath.Join(dir, "cgroup.freeze")); got != "1" {
		t.Errorf("cgroup.freeze = %q after pause, want 1", got)
	}
	// pause returns once the kernel reports the whole subtree frozen.
	if got := cgEvent(dir, "frozen"); got != "1" {
		t.Errorf("cgroup.events frozen = %q right after pause, want 1", got)
	}
	if got := cgEvent(sub, "frozen"); got != "1" {
		t.Errorf("sub-cgroup %s: frozen = %q, want 1 (frozen with its parent)", sub, got)
	}
	if st := c.mustState(); st.Status != "paused" {
		t.Errorf("state after pause: %q", st.Status)
	}
	for _, pid := range cgProcs(dir) {
		// A v2-frozen task waits in do_freezer_trap, in state S (v1's
		// freezer shows D). wchan names it where kallsyms allows, or
		// get_signal, into which the compiler may inline it.
		if p := procStat(pid); p.pid != 0 && p.state != 'S' {
			t.Errorf("pid %d (%s) in state %c while frozen, want S", pid, p.comm, p.state)
		}
		switch w := readTrim(fmt.Sprintf("/proc/%d/wchan", pid)); w {
		case "", "0", "do_freezer_trap", "get_signal":
		default:
			t.Errorf("pid %d waits in %s while frozen, want do_freezer_trap", pid, w)
		}
	}
	frozenAt := readTrim(counter)
	time.Sleep(time.Second)
	if now := readTrim(counter); now != frozenAt {
		t.Errorf("counter moved from %s to %s while frozen", frozenAt, now)
	}

	c.mustRun("resume", c.ID)
	if got := readTrim(filepath.Join(dir, "cgroup.freeze")); got != "0" {
		t.Errorf("cgroup.freeze = %q after resume, want 0", got)
	}
	if !waitFor(10*time.Second, func() bool { return cgEvent(dir, "frozen") == "0" }) {
		t.Errorf("cgroup.events still frozen %q after resume", cgEvent(dir, "frozen"))
	}
	if st := c.mustState(); st.Status != "running" {
		t.Errorf("state after resume: %q", st.Status)
	}
	if !waitFor(10*time.Second, func() bool { return readTrim(counter) != frozenAt }) {
		t.Errorf("counter still %s after resume", frozenAt)
	}

	// A fatal signal gets through a v2 freeze: `kill KILL` of a
	// paused container ends its init at once.
	c.mustRun("pause", c.ID)
	pid := c.mustState().Pid
	c.mustRun("kill", c.ID, "KILL")
	if _, err := waitExit(pid, 30*time.Second); err != nil {
		t.Fatalf("init of a paused container after kill KILL: %v", err)
	}
	if st := c.mustState(); st.Status != "stopped" {
		t.Errorf("state after kill KILL of a paused container: %q", st.Status)
	}
}

// hasCgroupKill reports whether the kernel has cgroup.kill (5.14).
func hasCgroupKill(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "cgroup.kill"))
	return err == nil
}

// `kill --all KILL` ends every process of the container's cgroup, in
// sub-cgroups too, including a process forking all the while; delete
// then removes the cgroup with its sub-cgroups.
func TestCgroupV2KillAll(t *testing.T) {
	requireCgroupV2(t)
	script := `sleep 600 & sleep 600 & (while :; do sleep 600 & sleep 0.1; done) & exec sleep 600`
	c := cgStarted(t, []string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptrTo(int64(200))}
	})
	dir := cgV2Dir(t, c)
	t.Logf("cgroup.kill present: %v", hasCgroupKill(dir))
	sub := subCgroupWith(t, dir, "sub", waitProc(t, dir, "sleep", "600"))
	pids := waitPids(t, dir, 6)
	initPid := c.mustState().Pid

	logFile := filepath.Join(t.TempDir(), "kill.log")
	c.mustRun("--debug", "--log", logFile, "kill", "--all", c.ID, "KILL")
	if hasCgroupKill(dir) && !strings.Contains(readString(logFile), "through cgroup.kill") {
		t.Errorf("kill --all KILL did not use cgroup.kill; log:\n%s", readString(logFile))
	}
	if !waitFor(15*time.Second, func() bool { return cgEvent(dir, "populated") == "0" }) {
		t.Fatalf("after kill --all KILL the cgroup still holds %v", cgProcs(dir))
	}
	for _, pid := range pids {
		// A dying process leaves its cgroup (populated 0) before the
		// end of its exit, where it becomes a zombie: on the slow VM
		// lanes that takes a moment.
		gone := func() bool { p := procStat(pid); return p.pid == 0 || p.state == 'Z' }
		if !waitFor(5*time.Second, gone) {
			p := procStat(pid)
			t.Errorf("pid %d (%s, state %c) alive after kill --all KILL", pid, p.comm, p.state)
		}
	}
	if _, err := waitExit(initPid, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := c.mustState(); st.Status != "stopped" {
		t.Errorf("state after kill --all KILL: %q", st.Status)
	}
	// On a stopped container with its cgroup still there, kill --all
	// is no error (runc's rule).
	c.mustRun("kill", "--all", c.ID, "KILL")

	c.mustRun("delete", c.ID)
	for _, d := range []string{sub, dir} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s still there after delete", d)
		}
	}
}

// A container without a PID namespace of its own: its processes do not
// die with its init, and `delete --force` must kill every one through
// the cgroup, sub-cgroups included, and then remove it.
func TestCgroupV2DeleteForceHostPID(t *testing.T) {
	requireCgroupV2(t)
	c := cgStarted(t, []string{"sh", "-c", "sleep 600 & sleep 600 & sleep 600 & exec sleep 600"}, func(s *specs.Spec) {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
			return ns.Type == specs.PIDNamespace
		})
	})
	dir := cgV2Dir(t, c)
	pids := waitPids(t, dir, 4)
	sub := subCgroupWith(t, dir, "sub", pids[0])
	procs := make([]procInfo, 0, len(pids))
	for _, pid := range pids {
		procs = append(procs, procStat(pid))
	}

	c.mustRun("delete", "--force", c.ID)
	for _, p := range procs {
		if p.pid != 0 && !waitGone(p, 10*time.Second) {
			t.Errorf("pid %d (%s) of the container alive after delete --force", p.pid, p.comm)
			_ = unix.Kill(p.pid, unix.SIGKILL)
		}
	}
	for _, d := range []string{sub, dir} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s still there after delete --force", d)
		}
	}
}

// The device rules of linux.resources.devices are an eBPF program on
// v2 (there is no devices.* file). Nodes of major 240 (reserved for
// local use, so no driver) tell its verdict apart from the driver's:
// the filter refuses with EPERM, and an open it lets through fails
// with ENXIO for want of a driver. As with runc, the default device
// rules come after the spec's, so a spec cannot take /dev/null away.
func TestCgroupV2DeviceFilter(t *testing.T) {
	requireCgroupV2(t)
	node := func(path string, minor int64) specs.LinuxDevice {
		return specs.LinuxDevice{Path: path, Type: "c", Major: 240, Minor: minor,
			FileMode: ptrTo(os.FileMode(0o666)), UID: ptrTo(uint32(0)), GID: ptrTo(uint32(0))}
	}
	// Each open's outcome, one line per device and mode: "ok" or the
	// shell's error.
	script := `for d in /dev/skt-denied /dev/skt-rw /dev/skt-ro /dev/zero /dev/null; do
  for m in r w; do
    if [ $m = r ]; then err=$( { : <"$d"; } 2>&1 ); else err=$( { : >"$d"; } 2>&1 ); fi
    echo "$d $m ${err:-ok}"
  done
done`
	c := cgCtr(t, []string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Linux.Devices = append(s.Linux.Devices, node("/dev/skt-denied", 0), node("/dev/skt-rw", 1), node("/dev/skt-ro", 2))
		// `spec`'s rules deny everything first; these come after.
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptrTo(int64(240)), Minor: ptrTo(int64(1)), Access: "rw"},
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptrTo(int64(240)), Minor: ptrTo(int64(2)), Access: "r"},
			specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: ptrTo(int64(1)), Minor: ptrTo(int64(3)), Access: "rw"},
		)
	})
	if len(c.Spec.Linux.Resources.Devices) == 0 || c.Spec.Linux.Resources.Devices[0].Allow {
		t.Fatalf("spec's device rules do not start with deny-all: %+v", c.Spec.Linux.Resources.Devices)
	}
	// The container writes to the stdout create gave it.
	created := c.create()
	dir := cgV2Dir(t, c)
	for _, f := range []string{"devices.list", "devices.allow"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s exists: not a pure v2 cgroup", f)
		}
	}
	pid := c.mustState().Pid
	c.mustRun("start", c.ID)
	if _, err := waitExit(pid, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	out := readString(created.StdoutPath)
	const eperm, enxio = "Operation not permitted", "No such device or address"
	for _, want := range []struct{ dev, mode, err string }{
		{"/dev/skt-denied", "r", eperm},
		{"/dev/skt-denied", "w", eperm},
		{"/dev/skt-rw", "r", enxio},
		{"/dev/skt-rw", "w", enxio},
		{"/dev/skt-ro", "r", enxio},
		{"/dev/skt-ro", "w", eperm},
		{"/dev/zero", "r", ""},
		{"/dev/zero", "w", ""},
		{"/dev/null", "r", ""},
		{"/dev/null", "w", ""},
	} {
		prefix := want.dev + " " + want.mode + " "
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, prefix) {
				line = strings.TrimPrefix(l, prefix)
			}
		}
		switch {
		case line == "":
			t.Errorf("no result for %s %s in the container's output:\n%s", want.dev, want.mode, out)
		case want.err == "" && line != "ok":
			t.Errorf("open %s for %s: %s, want it to work", want.dev, want.mode, line)
		case want.err != "" && !strings.Contains(line, want.err):
			t.Errorf("open %s for %s: %s, want %q", want.dev, want.mode, line, want.err)
		}
	}
}

// v2Expect checks a file of the container's v2 cgroup from the host
// and, through the cgroup namespace, from inside.
func v2Expect(t *testing.T, c *ctr, dir, file, want string) {
	t.Helper()
	if got := readTrim(filepath.Join(dir, file)); got != want {
		t.Errorf("host %s/%s = %q, want %q", dir, file, got, want)
	}
	r := c.mustRun("exec", c.ID, "cat", "/sys/fs/cgroup/"+file)
	if got := strings.TrimSpace(r.Stdout); got != want {
		t.Errorf("inside /sys/fs/cgroup/%s = %q, want %q", file, got, want)
	}
}

// Each limit in its v2 file, from the host and from inside through the
// cgroup namespace (where the container's cgroup is the root), with the
// conversions v2 needs: cpu.weight from shares, memory.swap.max from
// v1's memory+swap, io.weight from the blkio weight; and
// linux.resources.unified written as given. The cgroup mount inside is
// read-only, so the container cannot raise its own limits.
func TestCgroupV2Limits(t *testing.T) {
	requireCgroupV2(t)
	c := cgStarted(t, []string{"sleep", "600"}, func(s *specs.Spec) {
		withCgroupNS(s)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptrTo(int64(48 << 20)), Reservation: ptrTo(int64(16 << 20))}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: ptrTo(uint64(512)), Quota: ptrTo(int64(50000)), Period: ptrTo(uint64(100000)), Cpus: "0", Mems: "0"}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptrTo(int64(40))}
		s.Linux.Resources.Unified = map[string]string{"memory.high": "41943040", "memory.oom.group": "1"}
	})
	dir := cgV2Dir(t, c)
	for file, want := range map[string]string{
		"memory.max":       "50331648",
		"memory.low":       "16777216",
		"memory.high":      "41943040",
		"memory.oom.group": "1",
		"cpu.weight":       cpuWeight512,
		"cpu.max":          "50000 100000",
		"cpuset.cpus":      "0",
		"cpuset.mems":      "0",
		"pids.max":         "40",
	} {
		v2Expect(t, c, dir, file, want)
	}
	inside := func(args ...string) result {
		return c.run(append([]string{"exec", c.ID}, args...)...)
	}
	if r := inside("cat", "/proc/self/cgroup"); strings.TrimSpace(r.Stdout) != "0::/" {
		t.Errorf("inside /proc/self/cgroup: %q, want 0::/", r.Stdout)
	}
	if r := inside("grep", " /sys/fs/cgroup ", "/proc/self/mountinfo"); !strings.Contains(r.Stdout, " - cgroup2 ") || !strings.Contains(r.Stdout, " ro,") {
		t.Errorf("inside, /sys/fs/cgroup is not a read-only cgroup2 mount: %q", r.Stdout)
	}
	if r := inside("sh", "-c", "echo max > /sys/fs/cgroup/memory.max"); r.Code == 0 || readTrim(filepath.Join(dir, "memory.max")) != "50331648" {
		t.Errorf("the container raised its own memory.max: %s", r)
	}

	// What not every kernel has: asked for only where the file exists.
	var optional []string
	has := func(f string) bool {
		_, err := os.Stat(filepath.Join(dir, f))
		return err == nil
	}
	c2 := cgCtr(t, []string{"sleep", "600"}, func(s *specs.Spec) {
		withCgroupNS(s)
		if has("memory.swap.max") {
			// v1's memory+swap 64M over memory 48M: 16M of swap.
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptrTo(int64(48 << 20)), Swap: ptrTo(int64(64 << 20))}
			optional = append(optional, "memory.swap.max=16777216")
		}
		if has("cpu.max.burst") {
			s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: ptrTo(int64(50000)), Period: ptrTo(uint64(100000)), Burst: ptrTo(uint64(10000))}
			optional = append(optional, "cpu.max.burst=10000")
		}
		switch {
		case has("io.bfq.weight"):
			s.Linux.Resources.BlockIO = &specs.LinuxBlockIO{Weight: ptrTo(uint16(500))}
			optional = append(optional, "io.bfq.weight=default 500")
		case has("io.weight"):
			// [10, 1000] mapped onto [1, 10000].
			s.Linux.Resources.BlockIO = &specs.LinuxBlockIO{Weight: ptrTo(uint16(500))}
			optional = append(optional, "io.weight=default 4950")
		}
		t.Logf("checked where this kernel has them: %q", optional)
		if has("hugetlb.2MB.max") {
			s.Linux.Resources.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}
			optional = append(optional, "hugetlb.2MB.max=4194304")
		}
	})
	if len(optional) == 0 {
		return
	}
	c2.create()
	c2.mustRun("start", c2.ID)
	dir2 := cgV2Dir(t, c2)
	for _, o := range optional {
		file, want, _ := strings.Cut(o, "=")
		v2Expect(t, c2, dir2, file, want)
	}
}

// exec --cgroup PATH puts the process in an existing sub-cgroup of the
// container's (v2 has one hierarchy, so no controller is named), and
// refuses a path that does not exist or leads out.
func TestCgroupV2ExecSubCgroup(t *testing.T) {
	requireCgroupV2(t)
	c := cgStarted(t, []string{"sleep", "600"}, func(s *specs.Spec) {
		// Without a cgroup namespace, /proc/self/cgroup shows the path
		// from the host's root.
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
			return ns.Type == specs.CgroupNamespace
		})
	})
	dir := cgV2Dir(t, c)
	rel := strings.TrimPrefix(dir, "/sys/fs/cgroup")
	inner := filepath.Join(dir, "inner")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(inner) })

	if out := c.mustRun("exec", c.ID, "cat", "/proc/self/cgroup").Stdout; strings.TrimSpace(out) != "0::"+rel {
		t.Errorf("exec: /proc/self/cgroup %q, want 0::%s", out, rel)
	}
	if out := c.mustRun("exec", "--cgroup", "inner", c.ID, "cat", "/proc/self/cgroup").Stdout; strings.TrimSpace(out) != "0::"+rel+"/inner" {
		t.Errorf("exec --cgroup inner: /proc/self/cgroup %q, want 0::%s/inner", out, rel)
	}
	for _, bad := range []string{"nope", "../escape", "inner/../../x"} {
		if r := c.run("exec", "--cgroup", bad, c.ID, "true"); r.Code == 0 {
			t.Errorf("exec --cgroup %s succeeded", bad)
		}
	}
}

// On cgroup v2 the init is born in its cgroup (clone3 with
// CLONE_INTO_CGROUP): it never runs outside it, and no cgroup.procs
// write is needed.
func TestCgroupV2InitBornInCgroup(t *testing.T) {
	requireCgroupV2(t)
	logFile := filepath.Join(t.TempDir(), "create.log")
	c := cgCtr(t, []string{"sleep", "600"}, nil)
	c.mustRun("--debug", "--log", logFile, "create", "--bundle", c.Bundle, c.ID)
	c.remember(c.mustState().Pid)
	log := readString(logFile)
	if !strings.Contains(log, "init born in its cgroup") || strings.Contains(log, "clone3 into cgroup:") {
		t.Errorf("the init was not born in its cgroup; log:\n%s", log)
	}
	dir := cgV2Dir(t, c)
	if procs := cgProcs(dir); !slices.Contains(procs, c.mustState().Pid) {
		t.Errorf("init %d not in %s: %v", c.mustState().Pid, dir, procs)
	}
	c.mustRun("delete", "--force", c.ID)
}
