package tests

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestUser(t *testing.T) {
	umask := uint32(0o027)
	f, _ := probe(t, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{10, 2000}, Umask: &umask}
	})
	if f.UID != 1000 || f.EUID != 1000 || f.GID != 1001 || f.EGID != 1001 {
		t.Errorf("uid %d euid %d gid %d egid %d, want 1000/1000 1001/1001", f.UID, f.EUID, f.GID, f.EGID)
	}
	groups := append([]int{}, f.Groups...)
	sort.Ints(groups)
	if fmt.Sprint(groups) != "[10 2000]" {
		t.Errorf("supplementary groups %v, want [10 2000]", groups)
	}
	if f.Umask != "0027" {
		t.Errorf("umask %s, want 0027", f.Umask)
	}
}

func TestCwdEnv(t *testing.T) {
	var env []string
	f, _ := probe(t, func(s *specs.Spec) {
		s.Process.Cwd = "/var"
		s.Process.Env = append(s.Process.Env, "SKIFF_TEST=a b=c", "EMPTY=")
		env = s.Process.Env
	})
	if f.Cwd != "/var" {
		t.Errorf("cwd %q, want /var", f.Cwd)
	}
	checkEnv(t, f, env)
}

// For root, execve makes the effective set equal the permitted one, so
// the spec sets them equal; bounding and inheritable differ, and the
// ambient set is within both permitted and inheritable as it must be.
func TestCapabilities(t *testing.T) {
	caps := &specs.LinuxCapabilities{
		Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_SETUID"},
		Effective:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
		Permitted:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
		Inheritable: []string{"CAP_KILL", "CAP_NET_RAW"},
		Ambient:     []string{"CAP_KILL"},
	}
	f, _ := probe(t, func(s *specs.Spec) { s.Process.Capabilities = caps })
	checkCaps(t, f, caps)
}

func TestNoNewPrivilegesOff(t *testing.T) {
	f, _ := probe(t, func(s *specs.Spec) { s.Process.NoNewPrivileges = false })
	if f.NoNewPrivs != 0 {
		t.Errorf("NoNewPrivs %d with noNewPrivileges false, want 0", f.NoNewPrivs)
	}
}

// The probe cannot report RLIMIT_NOFILE's soft limit (the Go runtime
// raises it at start), so the shell reads that one.
func TestRlimits(t *testing.T) {
	rl := func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
			{Type: "RLIMIT_NPROC", Soft: 500, Hard: 600},
		}
	}
	f, _ := probe(t, rl)
	if got := f.Rlimits["RLIMIT_NPROC"]; got.Soft != 500 || got.Hard != 600 {
		t.Errorf("RLIMIT_NPROC %+v, want 500/600", got)
	}
	c := newCtr(t, func(s *specs.Spec) {
		rl(s)
		s.Process.Args = []string{"sh", "-c", "ulimit -Sn; ulimit -Hn"}
	})
	if r := c.run("run", "--bundle", c.Bundle, c.ID); r.Code != 0 || strings.Fields(r.Stdout) == nil ||
		strings.Join(strings.Fields(r.Stdout), " ") != "100 200" {
		t.Errorf("RLIMIT_NOFILE: want 100 200: %s", r)
	}
}

// oomScoreAdj is checked from inside and, while the container is only
// created, on the host.
func TestOOMScoreAdj(t *testing.T) {
	adj := 123
	c := newCtr(t, func(s *specs.Spec) { s.Process.OOMScoreAdj = &adj })
	r := c.create()
	pid := c.mustState().Pid
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid)); strings.TrimSpace(string(b)) != "123" {
		t.Errorf("host view of init's oom_score_adj: %q, want 123", b)
	}
	c.mustRun("start", c.ID)
	if _, err := waitExit(pid, cmdTimeout); err != nil {
		t.Fatal(err)
	}
	f := parseFacts(t, result{Args: r.Args, Stdout: readString(r.StdoutPath)})
	if f.OOMScoreAdj != 123 {
		t.Errorf("oom_score_adj inside %d, want 123", f.OOMScoreAdj)
	}
}

func TestSysctl(t *testing.T) {
	hostBefore := readString("/proc/sys/net/ipv4/ip_forward") + readString("/proc/sys/kernel/shmmax")
	r := probeCmd(t, func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "12345678"}
	}, "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmax")
	if r.Code != 0 || r.Stdout != "1\n12345678\n" {
		t.Errorf("sysctls inside: want 1 and 12345678: %s", r)
	}
	if after := readString("/proc/sys/net/ipv4/ip_forward") + readString("/proc/sys/kernel/shmmax"); after != hostBefore {
		t.Errorf("host sysctls changed: %q -> %q", hostBefore, after)
	}
}

func TestNoPivot(t *testing.T) {
	c := newCtr(t, nil)
	f := parseFacts(t, c.mustRun("run", "--no-pivot", "--bundle", c.Bundle, c.ID))
	if f.Pid != 1 {
		t.Errorf("pid %d, want 1", f.Pid)
	}
	root, ok := f.MountAt("/")
	if !ok || !root.HasOption("ro") {
		t.Errorf("root mount %+v, want a read-only /", root)
	}
	checkFDs(t, f, 3)
}
