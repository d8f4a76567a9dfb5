package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// On cgroup v1 and hybrid hosts stage 1 joins its cgroups itself: it
// writes "0" to the tasks file of each v1 hierarchy (on a hybrid host it
// is also born in the unified one with CLONE_INTO_CGROUP), so the parent
// never writes a pid to cgroup.procs, which waits for an RCU grace period
// on every create. With a user namespace stage 1 joins before it enters
// any namespace: the user namespace would take away its right to write
// the host's files. Without one it creates its namespaces first, while
// the parent makes the cgroups, and joins them after (SyncCgroupMade).
// The init must be in the container's cgroup in every hierarchy, with
// the limits, seen from the host and from inside. exec works the same
// way: its stage 1 opens the tasks files first, the process it forks
// writes to them from inside the container's namespaces.
func TestCgroupV1SelfJoin(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		t.Skip("pure cgroup v2: the init is born in its cgroup (TestCgroupV2InitBornInCgroup)")
	}
	for _, userns := range []bool{false, true} {
		t.Run("userns="+strconv.FormatBool(userns), func(t *testing.T) {
			c := cgCtr(t, []string{"sleep", "600"}, func(s *specs.Spec) {
				withCgroupNS(s)
				s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptrTo(int64(33))}
				s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptrTo(int64(40 << 20))}
				if userns {
					withUserNS(s)
				}
			})
			if userns {
				prepareUserNSBundle(t, c)
			}
			logFile := filepath.Join(t.TempDir(), "debug.log")
			c.mustRun("--debug", "--log", logFile, "create", "--bundle", c.Bundle, c.ID)
			pid := c.mustState().Pid
			c.remember(pid)

			create := regexp.MustCompile(`create ` + c.ID + `: [^"]*`).FindString(readString(logFile))
			if strings.Contains(create, "cgroup joined") {
				t.Errorf("create did not let stage 1 join its cgroups itself (the parent moved it): %s", create)
			}
			// Made before the plan was sent (user namespace), or while
			// stage 1 created its namespaces (the marks of makeCgroup).
			made := []string{"cgroup made, limits set "}
			if !userns {
				made = []string{"cgroup made ", "cgroup limits "}
			}
			for _, m := range made {
				if !strings.Contains(create, m) {
					t.Errorf("create trace has no %q: %s", m, create)
				}
			}

			// From the host: the init is listed in each of the container's
			// cgroup directories (state.json has them), every one of them.
			var st struct {
				CgroupPaths map[string]string `json:"cgroup_paths"`
			}
			if err := json.Unmarshal([]byte(readString(filepath.Join(c.Root, c.ID, "state.json"))), &st); err != nil {
				t.Fatal(err)
			}
			if len(st.CgroupPaths) < 2 {
				t.Fatalf("cgroup paths %v: want every v1 hierarchy", st.CgroupPaths)
			}
			for ctrl, dir := range st.CgroupPaths {
				pids := strings.Fields(readString(filepath.Join(dir, "cgroup.procs")))
				if !slices.Contains(pids, strconv.Itoa(pid)) {
					t.Errorf("%q cgroup %s does not hold the init %d (holds %v)", ctrl, dir, pid, pids)
				}
			}
			c.mustRun("start", c.ID)
			dirs := cgDirs(t, pid)
			cgExpect(t, c, dirs, "pids", "pids.max", "33", "pids.max", "33")
			cgExpect(t, c, dirs, "memory", "memory.limit_in_bytes", "41943040", "memory.max", "41943040")

			// exec: stage 1 opens the tasks files before it joins the
			// container's namespaces, the process it forks joins.
			pidFile := filepath.Join(t.TempDir(), "exec.pid")
			c.mustRun("--debug", "--log", logFile, "exec", "-d", "--pid-file", pidFile, c.ID, "sleep", "60")
			execPid, err := strconv.Atoi(strings.TrimSpace(readString(pidFile)))
			if err != nil {
				t.Fatal(err)
			}
			execTrace := regexp.MustCompile(`exec in ` + c.ID + `: [^"]*`).FindString(readString(logFile))
			if execTrace == "" || strings.Contains(execTrace, "cgroup joined") {
				t.Errorf("exec did not let its process join the cgroups itself (the parent moved it): %q", execTrace)
			}
			for ctrl, dir := range st.CgroupPaths {
				pids := strings.Fields(readString(filepath.Join(dir, "cgroup.procs")))
				if !slices.Contains(pids, strconv.Itoa(execPid)) {
					t.Errorf("%q cgroup %s does not hold the exec'd process %d (holds %v)", ctrl, dir, execPid, pids)
				}
			}

			// From inside: the container is at the root of every
			// hierarchy of its cgroup namespace, which stage 1 made
			// after it joined.
			r := c.mustRun("exec", c.ID, "cat", "/proc/self/cgroup")
			for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
				if !strings.HasSuffix(line, ":/") {
					t.Errorf("inside /proc/self/cgroup: %q, want the namespace root /", line)
				}
			}
		})
	}
}

// Without clone3 (a kernel before 5.3, or a seccomp profile that
// refuses it) stage 1 cannot be born in its unified cgroup: create and
// exec start it the old way and the parent moves it, and exec takes
// back the plan it had queued on the socket for a stage 1 born in its
// cgroup and queues the other one. The init and the exec'd process
// still end up in every cgroup of the container, under its limits.
func TestCloneIntoCgroupRefused(t *testing.T) {
	requireNoOpenat2(t)
	if !runtimeIsSkiff() {
		t.Skip("reads skiff's --debug trace")
	}
	_, v2 := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	_, hybrid := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers")
	if v2 != nil && hybrid != nil {
		t.Skip("no unified hierarchy: no process is born in a cgroup here")
	}
	wrapper := []string{buildNoOpenat2(t), "-clone3"}
	c := cgCtr(t, []string{"sleep", "600"}, func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptrTo(int64(37))}
	})
	logFile := filepath.Join(t.TempDir(), "debug.log")
	if r := c.runWith(runOpts{wrapper: wrapper}, "--debug", "--log", logFile, "create", "--bundle", c.Bundle, c.ID); r.Code != 0 {
		t.Fatalf("create without clone3: %s", r)
	}
	pid := c.mustState().Pid
	c.remember(pid)
	c.mustRun("start", c.ID)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	if r := c.runWith(runOpts{wrapper: wrapper}, "--debug", "--log", logFile, "exec", "-d", "--pid-file", pidFile, c.ID, "sleep", "60"); r.Code != 0 {
		t.Fatalf("exec without clone3: %s", r)
	}
	execPid, err := strconv.Atoi(strings.TrimSpace(readString(pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	log := readString(logFile)
	if n := strings.Count(log, "clone3 into cgroup:"); n != 2 {
		t.Errorf("%d fallbacks from clone3 in the debug log, want 2 (create and exec):\n%s", n, log)
	}
	if strings.Contains(log, "init born in its cgroup") {
		t.Errorf("a stage 1 was born in its cgroup although clone3 is refused:\n%s", log)
	}
	var st struct {
		CgroupPaths map[string]string `json:"cgroup_paths"`
	}
	if err := json.Unmarshal([]byte(readString(filepath.Join(c.Root, c.ID, "state.json"))), &st); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.CgroupPaths[""]; !ok {
		t.Fatalf("cgroup paths %v: no unified one", st.CgroupPaths)
	}
	for ctrl, dir := range st.CgroupPaths {
		pids := strings.Fields(readString(filepath.Join(dir, "cgroup.procs")))
		for _, p := range []int{pid, execPid} {
			if !slices.Contains(pids, strconv.Itoa(p)) {
				t.Errorf("%q cgroup %s does not hold %d (holds %v)", ctrl, dir, p, pids)
			}
		}
	}
	cgExpect(t, c, cgDirs(t, pid), "pids", "pids.max", "37", "pids.max", "37")
}
