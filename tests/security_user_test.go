package tests

// Wrong defaults and wrong parsing: numeric users looked up as names
// (CVE-2016-3697, crun CVE-2026-30892), inheritable capabilities from
// `exec --cap` (CVE-2022-29162), and the default masked and read-only
// paths (CVE-2015-3630).

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// evilPasswd names a user "1000" whose uid is 0, and a group "1000"
// whose gid is 0.
func evilPasswd(t *testing.T, c *ctr) {
	t.Helper()
	etc := filepath.Join(c.Rootfs, "etc")
	for name, data := range map[string]string{
		"passwd": "root:x:0:0:root:/root:/bin/sh\n1000:x:0:0::/root:/bin/sh\nabc:x:0:0::/root:/bin/sh\n",
		"group":  "root:x:0:\n1000:x:0:\n",
	} {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCVE20163697NumericUser(t *testing.T) {
	c := newCtr(t, sleeper)
	evilPasswd(t, c)
	c.create()
	c.mustRun("start", c.ID)
	for _, tc := range []struct {
		user, uid, gid string
	}{
		{"1000", "1000", ""},
		{"1000:1000", "1000", "1000"},
		{"0:1000", "0", "1000"},
		{"1000:0", "1000", "0"},
	} {
		r := c.run("exec", "-u", tc.user, c.ID, "sh", "-c", "id -u; id -g")
		noPanic(t, r)
		got := strings.Fields(r.Stdout)
		if r.Code != 0 || len(got) != 2 {
			t.Errorf("exec -u %s: %s", tc.user, r)
			continue
		}
		if got[0] != tc.uid || (tc.gid != "" && got[1] != tc.gid) {
			t.Errorf("exec -u %s: uid %s gid %s, want uid %s gid %s (the image's passwd names a user %q with uid 0)",
				tc.user, got[0], got[1], tc.uid, tc.gid, "1000")
		}
	}
	f, _ := probe(t, func(s *specs.Spec) { s.Process.User = specs.User{UID: 1000, GID: 1000} })
	if f.UID != 1000 || f.EUID != 1000 || f.GID != 1000 {
		t.Errorf("process.user 1000:1000 runs as uid %d euid %d gid %d", f.UID, f.EUID, f.GID)
	}
}

// Malformed -u values are refused: no process runs, as root or at all.
func TestMalformedExecUser(t *testing.T) {
	c := newCtr(t, sleeper)
	evilPasswd(t, c)
	c.create()
	c.mustRun("start", c.ID)
	// The control: a well-formed user runs, so a refusal below is the
	// parser's doing.
	if r := c.run("exec", "-u", "1000:1000", c.ID, "sh", "-c", "echo RAN"); r.Code != 0 || !strings.Contains(r.Stdout, "RAN") {
		t.Fatalf("exec -u 1000:1000 does not run: %s", r)
	}
	for _, u := range []string{
		"1000:", ":1000", ":", "4294967296", "1000:4294967296", "abc", "1000:abc", "-1", "1000:-1",
		"1000:1000:1000", " 1000", "1000 ", "+1000", "0x10", "1e3", "18446744073709551616",
	} {
		r := c.run("exec", "-u", u, c.ID, "sh", "-c", "echo RAN; id -u")
		noPanic(t, r)
		if r.Code == 0 || strings.Contains(r.Stdout, "RAN") {
			t.Errorf("exec -u %q: want a refusal and no process (uid printed: %q): %s", u, r.Stdout, r)
		} else {
			t.Logf("exec -u %q: %s", u, strings.TrimSpace(r.Stderr))
		}
	}
}

// CVE-2022-29162: --cap adds to the bounding, effective and permitted
// sets, never to the inheritable (or ambient) one.
func TestCVE202229162ExecCap(t *testing.T) {
	s := defaultSpec(t)
	if s.Process.Capabilities != nil && len(s.Process.Capabilities.Inheritable) > 0 {
		t.Errorf("`spec` emits inheritable capabilities: %v", s.Process.Capabilities.Inheritable)
	}
	c := newCtr(t, sleeper)
	c.create()
	c.mustRun("start", c.ID)
	for _, capName := range []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "sys_ptrace"} {
		f := parseFacts(t, c.mustRun("exec", "--cap", capName, c.ID, "/probe", "json"))
		inh, err1 := strconv.ParseUint(f.Caps["CapInh"], 16, 64)
		amb, err2 := strconv.ParseUint(f.Caps["CapAmb"], 16, 64)
		eff, err3 := strconv.ParseUint(f.Caps["CapEff"], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("capabilities unreadable: %v", f.Caps)
		}
		if inh != 0 || amb != 0 {
			t.Errorf("exec --cap %s: CapInh %016x CapAmb %016x, want both 0", capName, inh, amb)
		}
		name := strings.ToUpper(capName)
		if !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		if want := capMask(t, []string{name}); eff&want == 0 {
			t.Errorf("exec --cap %s: CapEff %016x lacks it", capName, eff)
		}
	}
	f, _ := probe(t, nil)
	if f.Caps["CapInh"] != "0000000000000000" {
		t.Errorf("default container: CapInh %s, want 0", f.Caps["CapInh"])
	}
}

// With the default spec, the host-global procfs files are read-only
// and the masked ones empty. Writes use contrib/escape openw (an open
// for writing, never a write), so that a failure cannot change the host.
func TestDefaultMaskedReadonly(t *testing.T) {
	g := newHostGuard(t)
	s := defaultSpec(t)
	global := existingOnHost([]string{"/proc/sysrq-trigger", "/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches", "/proc/irq/default_smp_affinity"})
	c := newCtr(t, func(s *specs.Spec) { s.Process.Args = append([]string{"/escape", "openw"}, global...) })
	installEscape(t, c)
	r := c.mustRun("run", "--bundle", c.Bundle, c.ID)
	var opens map[string]string
	if err := json.Unmarshal([]byte(r.Stdout), &opens); err != nil {
		t.Fatalf("openw output: %v: %s", err, r)
	}
	for _, p := range global {
		if opens[p] == "ok" {
			t.Errorf("ESCAPE: %s opens for writing in a default container", p)
		} else {
			t.Logf("%s: %s", p, opens[p])
		}
	}
	if _, err := os.Stat("/proc/sysrq-trigger"); err != nil {
		t.Logf("this kernel has no /proc/sysrq-trigger; core_pattern stands in for it")
	}
	masked := maskedFilesOnHost(t)
	if len(masked) > 0 {
		rc := probeCmd(t, nil, append([]string{"cat"}, masked...)...)
		if rc.Code != 0 || rc.Stdout != "" {
			t.Errorf("reading masked %v: want 0 bytes: %s", masked, rc)
		}
	}
	if _, err := os.Stat("/proc/kcore"); err != nil {
		t.Logf("this kernel has no /proc/kcore; checked %v", masked)
	}
	for _, want := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"} {
		if !secContains(s.Linux.MaskedPaths, want) {
			t.Errorf("default maskedPaths lack %s", want)
		}
	}
	for _, want := range []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"} {
		if !secContains(s.Linux.ReadonlyPaths, want) {
			t.Errorf("default readonlyPaths lack %s", want)
		}
	}
	// A masked path reached through the container's own /proc/self
	// (a symlink in procfs) is masked too.
	st := probeStats(t, nil, "/proc/self/root/proc/keys")
	if len(masked) > 0 && (st[0].Type != "char" || st[0].Major != 1 || st[0].Minor != 3) && secContains(masked, "/proc/keys") {
		t.Errorf("/proc/self/root/proc/keys is %+v, want the null device", st[0])
	}
	g.Check("after the default-spec writes")
}

func secContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
