package tests

import (
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hugePageMapping is an anonymous mapping of a process that asked for
// transparent huge pages (VmFlags "hg") or not to have them ("nh").
type hugePageMapping struct {
	header             string
	sizeKB, anonHugeKB int
}

// hugePageMappings returns pid's anonymous mappings whose VmFlags hold
// flag.
func hugePageMappings(t *testing.T, pid int, flag string) []hugePageMapping {
	t.Helper()
	var found []hugePageMapping
	for _, m := range readSmaps(t, pid) {
		if len(m.header) == 5 && slices.Contains(m.flags, flag) {
			found = append(found, hugePageMapping{strings.Join(m.header, " "), m.kB("Size:"), m.kB("AnonHugePages:")})
		}
	}
	return found
}

// The commands that end within milliseconds ask for transparent huge
// pages for the Go heap (libcontainer/nsenter/hugeheap.c): a foreground
// `exec` has an anonymous mapping of 2 MiB or more with VmFlags "hg".
// A foreground `run`, whose peak RSS stays under 4 MiB, has none, and
// its heap asks not to have them ("nh"), for hosts where they are on for
// every process.
func TestQuickCommandsHugeHeap(t *testing.T) {
	if !runtimeIsSkiff() {
		t.Skip("skiff's own mappings")
	}
	thp, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		t.Skipf("no transparent huge pages: %v", err)
	}
	c := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", slackPrinter} })
	run, runOut, cancelRun := startForeground(t, c, t.TempDir(), "run", "--bundle", c.Bundle, c.ID)
	defer cancelRun()
	waitOutput(t, runOut, "ready")
	if m := hugePageMappings(t, run.Process.Pid, "hg"); len(m) != 0 {
		t.Errorf("skiff run asked for huge pages: %v", m)
	}
	if m := hugePageMappings(t, run.Process.Pid, "nh"); !slices.ContainsFunc(m, func(h hugePageMapping) bool { return h.sizeKB >= 2048 }) {
		t.Errorf("skiff run's heap did not ask not to have huge pages: %v", m)
	}

	execCmd, execOut, cancelExec := startForeground(t, c, t.TempDir(), "exec", c.ID, "sh", "-c", slackPrinter)
	defer cancelExec()
	waitOutput(t, execOut, "ready")
	m := hugePageMappings(t, execCmd.Process.Pid, "hg")
	t.Logf("transparent huge pages %s; skiff exec's mappings with VmFlags hg: %+v", strings.TrimSpace(string(thp)), m)
	if !slices.ContainsFunc(m, func(h hugePageMapping) bool { return h.sizeKB >= 2048 }) {
		t.Errorf("skiff exec has no anonymous mapping of 2 MiB or more that asked for huge pages")
	}
	terminate(t, execCmd, execOut)
	terminate(t, run, runOut)
	c.checkGone("after run")
}
