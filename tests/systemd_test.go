package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The systemd cgroup driver (--systemd-cgroup): the container's cgroup
// is a transient scope unit that systemd makes, with the limits as unit
// properties. These tests need systemd as PID 1; `make test-cgroupv2`
// runs them in its systemd VM lane. TestSystemdNotRunning is the one
// for hosts without systemd.

// systemdRunning is sd_booted(3)'s test, which the cgroup library uses
// too.
func systemdRunning() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

func requireSystemd(t *testing.T) {
	t.Helper()
	requireSetup(t)
	if !systemdRunning() {
		t.Skip("needs systemd as PID 1; make test-cgroupv2 runs this in its systemd VM lane")
	}
	if _, err := exec.LookPath("systemctl"); err != nil {
		t.Skip("systemd runs, but there is no systemctl to check its units with")
	}
}

// unitProps returns the named properties of a unit (systemctl show).
func unitProps(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	args := []string{"show", unit}
	for _, p := range props {
		args = append(args, "-p", p)
	}
	out, err := exec.Command("systemctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("systemctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// expectProps compares unit properties with want.
func expectProps(t *testing.T, unit string, want map[string]string) {
	t.Helper()
	var names []string
	for k := range want {
		names = append(names, k)
	}
	got := unitProps(t, unit, names...)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s=%q, want %q", unit, k, got[k], v)
		}
	}
}

// waitUnitGone waits until systemd has stopped and unloaded unit, and
// its cgroup is gone.
func waitUnitGone(t *testing.T, unit, cgroup string) {
	t.Helper()
	var props map[string]string
	var cgErr error
	if !waitFor(15*time.Second, func() bool {
		props = unitProps(t, unit, "ActiveState", "LoadState")
		_, cgErr = os.Stat(cgroup)
		return props["ActiveState"] != "active" && props["LoadState"] == "not-found" && os.IsNotExist(cgErr)
	}) {
		t.Errorf("%s not gone after delete: %v; cgroup %s: %v", unit, props, cgroup, cgErr)
	}
}

// sdCtr makes a container for the systemd driver whose init runs args,
// with the cgroupsPath "system.slice:skiff:<name>" (unless the spec
// changed by mutate sets another), and returns it with the scope's
// name. Create it with sdCreate.
func sdCtr(t *testing.T, args []string, mutate func(*specs.Spec)) (*ctr, string) {
	t.Helper()
	requireSystemd(t)
	name := fmt.Sprintf("sdtest-%d-%d", os.Getpid(), cgSeq.Add(1))
	c := newCtr(t, func(s *specs.Spec) {
		s.Linux.CgroupsPath = "system.slice:skiff:" + name
		s.Linux.Resources = &specs.LinuxResources{Devices: s.Linux.Resources.Devices}
		s.Process.Args = args
		s.Root.Readonly = false
		if mutate != nil {
			mutate(s)
		}
	})
	return c, "skiff-" + name + ".scope"
}

// sdCreate is create with --systemd-cgroup, as a container engine
// using the systemd driver runs every command.
func sdCreate(c *ctr) {
	c.t.Helper()
	c.mustRun("--systemd-cgroup", "create", "--bundle", c.Bundle, c.ID)
	c.remember(c.mustState().Pid)
}

// `--systemd-cgroup create` with "slice:prefix:name" makes the scope
// prefix-name.scope in the slice, with the limits as its properties
// and in its cgroup files (seen from inside too, through a cgroup
// namespace); delete makes it go away.
func TestSystemdScope(t *testing.T) {
	c, unit := sdCtr(t, []string{"sleep", "600"}, func(s *specs.Spec) {
		withCgroupNS(s)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptrTo(int64(48 << 20)), Reservation: ptrTo(int64(16 << 20))}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: ptrTo(uint64(512)), Quota: ptrTo(int64(50000)), Period: ptrTo(uint64(100000)), Cpus: "0"}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptrTo(int64(40))}
	})
	sdCreate(c)
	c.mustRun("--systemd-cgroup", "start", c.ID)
	cgroup := "/sys/fs/cgroup/system.slice/" + unit

	expectProps(t, unit, map[string]string{
		"ActiveState":        "active",
		"Slice":              "system.slice",
		"ControlGroup":       "/system.slice/" + unit,
		"Delegate":           "yes",
		"MemoryMax":          "50331648",
		"MemoryLow":          "16777216",
		"TasksMax":           "40",
		"CPUQuotaPerSecUSec": "500ms",
		"CPUWeight":          cpuWeight512,
		"AllowedCPUs":        "0",
	})
	dirs := cgDirs(t, c.mustState().Pid)
	if dirs[""] != cgroup {
		t.Errorf("the init's cgroup is %s, want %s", dirs[""], cgroup)
	}
	cgExpect(t, c, dirs, "memory", "", "", "memory.max", "50331648")
	cgExpect(t, c, dirs, "memory", "", "", "memory.low", "16777216")
	cgExpect(t, c, dirs, "pids", "", "", "pids.max", "40")
	cgExpect(t, c, dirs, "cpu", "", "", "cpu.max", "50000 100000")
	cgExpect(t, c, dirs, "cpu", "", "", "cpu.weight", cpuWeight512)
	cgExpect(t, c, dirs, "cpuset", "", "", "cpuset.cpus", "0")
	// The unit lists the container's processes: the init is in it.
	if r := c.mustRun("ps", "--format", "json", c.ID); !strings.Contains(r.Stdout, fmt.Sprint(c.mustState().Pid)) {
		t.Errorf("ps: %s", r.Stdout)
	}

	c.mustRun("delete", "--force", c.ID)
	waitUnitGone(t, unit, cgroup)
}

// With no cgroupsPath the scope is skiff-<id>.scope in system.slice; a
// foreground run passes the exit status on and leaves no unit behind.
func TestSystemdDefaultScope(t *testing.T) {
	c, _ := sdCtr(t, []string{"sh", "-c", "cat /proc/self/cgroup; exit 3"}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = ""
		// Without a cgroup namespace the path shows in full.
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
			return ns.Type == specs.CgroupNamespace
		})
	})
	unit := "skiff-" + c.ID + ".scope"
	r := c.run("--systemd-cgroup", "run", "--bundle", c.Bundle, c.ID)
	if r.Code != 3 {
		t.Errorf("run: %s\nwant exit 3", r)
	}
	if want := "0::/system.slice/" + unit; strings.TrimSpace(r.Stdout) != want {
		t.Errorf("the container's /proc/self/cgroup: %q, want %q", r.Stdout, want)
	}
	waitUnitGone(t, unit, "/sys/fs/cgroup/system.slice/"+unit)
}

// cgroupsPath must be "slice:prefix:name" for the systemd driver; other
// forms are refused before anything is made.
func TestSystemdBadPath(t *testing.T) {
	for _, path := range []string{"/skifftest-abs", "system.slice:skiff", "a:b:c:d"} {
		c, _ := sdCtr(t, []string{"true"}, func(s *specs.Spec) { s.Linux.CgroupsPath = path })
		r := c.run("--systemd-cgroup", "create", "--bundle", c.Bundle, c.ID)
		// (The log quotes the quotes.)
		if want := `is not of the form \"slice:prefix:name\"`; r.Code != 1 || !strings.Contains(r.Stderr, want) {
			t.Errorf("cgroupsPath %q: %s\nwant exit 1 and %q", path, r, want)
		}
		if _, err := os.Stat(filepath.Join(c.Root, c.ID)); err == nil {
			t.Errorf("cgroupsPath %q: state left behind", path)
		}
	}
}

// `update` of a container in a scope changes the cgroup files and the
// unit's properties both, as runc does: otherwise systemd puts its own
// (old) values back at the next daemon-reload.
func TestSystemdUpdate(t *testing.T) {
	c, unit := sdCtr(t, []string{"sleep", "600"}, func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptrTo(int64(64 << 20))}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptrTo(int64(32))}
	})
	sdCreate(c)
	c.mustRun("--systemd-cgroup", "start", c.ID)
	dirs := cgDirs(t, c.mustState().Pid)
	c.mustRun("--systemd-cgroup", "update", "--memory", "100m", "--pids-limit", "20",
		"--cpu-quota", "20000", "--cpu-period", "100000", c.ID)
	check := func(when string) {
		t.Helper()
		for file, want := range map[string]string{"memory.max": "104857600", "pids.max": "20", "cpu.max": "20000 100000"} {
			if got := readTrim(filepath.Join(dirs[""], file)); got != want {
				t.Errorf("%s: %s = %q, want %q", when, file, got, want)
			}
		}
	}
	check("after update")
	expectProps(t, unit, map[string]string{"MemoryMax": "104857600", "TasksMax": "20", "CPUQuotaPerSecUSec": "200ms"})
	if out, err := exec.Command("systemctl", "daemon-reload").CombinedOutput(); err != nil {
		t.Fatalf("systemctl daemon-reload: %v\n%s", err, out)
	}
	check("after systemctl daemon-reload")
}

// pause, resume, kill --all and delete --force of a container in a
// scope.
func TestSystemdPauseKill(t *testing.T) {
	c, unit := sdCtr(t, counterScript, nil)
	sdCreate(c)
	c.mustRun("--systemd-cgroup", "start", c.ID)
	cgroup := "/sys/fs/cgroup/system.slice/" + unit
	counter := filepath.Join(c.Rootfs, "counter")
	if !waitFor(15*time.Second, func() bool { return readTrim(counter) != "" }) {
		t.Fatal("the container never wrote /counter")
	}
	c.mustRun("pause", c.ID)
	if st := c.mustState(); st.Status != "paused" || cgEvent(cgroup, "frozen") != "1" {
		t.Errorf("after pause: state %q, %s frozen %q", st.Status, cgroup, cgEvent(cgroup, "frozen"))
	}
	c.mustRun("resume", c.ID)
	if st := c.mustState(); st.Status != "running" {
		t.Errorf("state after resume: %q", st.Status)
	}
	pid := c.mustState().Pid
	c.mustRun("kill", "--all", c.ID, "KILL")
	if _, err := waitExit(pid, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	c.mustRun("delete", "--force", c.ID)
	waitUnitGone(t, unit, cgroup)
}

// On a host not booted with systemd, --systemd-cgroup is an error that
// says so, and nothing of the container is left.
func TestSystemdNotRunning(t *testing.T) {
	requireSetup(t)
	if systemdRunning() {
		t.Skip("systemd runs here")
	}
	c := newCtr(t, func(s *specs.Spec) {
		s.Linux.CgroupsPath = "system.slice:skiff:" + strings.ReplaceAll(t.Name(), "/", "-")
		s.Process.Args = []string{"true"}
	})
	for _, cmd := range [][]string{{"create", "--bundle", c.Bundle, c.ID}, {"run", "--bundle", c.Bundle, c.ID}} {
		r := c.run(append([]string{"--systemd-cgroup"}, cmd...)...)
		if want := "systemd cgroup driver requested, but systemd is not running"; r.Code != 1 || !strings.Contains(r.Stderr, want) {
			t.Errorf("--systemd-cgroup %s: %s\nwant exit 1 and %q", cmd[0], r, want)
		}
		if r := c.run("state", c.ID); r.Code == 0 {
			t.Errorf("--systemd-cgroup %s left a container: %s", cmd[0], r.Stdout)
		}
	}
}
