package tests

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// exec --cgroup [controller:]path puts the process in an existing
// sub-cgroup of the container's, and refuses anything else.
func TestExecSubCgroup(t *testing.T) {
	requireSetup(t)
	name := "skifftest-" + newID()
	c := newCtr(t, func(s *specs.Spec) {
		s.Process.Args = []string{"/probe", "sleep", "60"}
		s.Linux.CgroupsPath = "/" + name
	})
	c.mustRun("run", "-d", "--bundle", c.Bundle, c.ID)
	inner := "/sys/fs/cgroup/pids/" + name + "/inner"
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	// Removed before the container's cgroup is (cleanups run last first).
	t.Cleanup(func() { os.Remove(inner) })

	out := c.mustRun("exec", "--cgroup", "pids:inner", c.ID, "cat", "/proc/self/cgroup").Stdout
	if !strings.Contains(out, "pids:/"+name+"/inner\n") {
		t.Errorf("pids cgroup of the exec'd process:\n%s", out)
	}
	if !strings.Contains(out, "memory:/"+name+"\n") {
		t.Errorf("memory cgroup of the exec'd process:\n%s", out)
	}
	for _, bad := range []string{"nope", "../escape", "pids:../../x", "nosuch:inner"} {
		if r := c.run("exec", "--cgroup", bad, c.ID, "true"); r.Code == 0 {
			t.Errorf("exec --cgroup %s succeeded", bad)
		}
	}
}
