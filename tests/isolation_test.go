package tests

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/contrib/probe/facts"
)

// nsProcName maps a config.json namespace type to its /proc/PID/ns name.
var nsProcName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// TestDefaultSpec checks everything the default spec asks for in one
// container run, one subtest per property.
func TestDefaultSpec(t *testing.T) {
	f, c := probe(t, nil)
	s := c.Spec

	t.Run("namespaces", func(t *testing.T) { checkNamespaces(t, f, s) })
	t.Run("pid1", func(t *testing.T) {
		if f.Pid != 1 || f.Ppid != 0 {
			t.Errorf("pid %d ppid %d, want 1 and 0", f.Pid, f.Ppid)
		}
	})
	t.Run("hostname", func(t *testing.T) {
		if f.Hostname != s.Hostname {
			t.Errorf("hostname %q, want %q", f.Hostname, s.Hostname)
		}
	})
	t.Run("mounts", func(t *testing.T) {
		// The default spec must keep asking for these, too.
		for point, fstype := range map[string]string{
			"/proc": "proc", "/sys": "sysfs", "/dev": "tmpfs", "/dev/pts": "devpts",
			"/dev/mqueue": "mqueue", "/dev/shm": "tmpfs",
		} {
			if m, ok := f.MountAt(point); !ok || m.FSType != fstype {
				t.Errorf("%s: %+v, want a %s mount", point, m, fstype)
			}
		}
		checkSpecMounts(t, f, s)
	})
	t.Run("devices", func(t *testing.T) { checkDevices(t, f) })
	t.Run("masked", func(t *testing.T) {
		for _, p := range existingOnHost(s.Linux.MaskedPaths) {
			if _, ok := f.MountAt(p); !ok {
				t.Errorf("masked path %s: nothing mounted over it", p)
			}
		}
	})
	t.Run("readonly", func(t *testing.T) {
		for _, p := range existingOnHost(s.Linux.ReadonlyPaths) {
			if m, ok := f.MountAt(p); !ok || !m.HasOption("ro") {
				t.Errorf("readonly path %s: mount %+v, want a read-only mount", p, m)
			}
		}
	})
	t.Run("rlimits", func(t *testing.T) {
		for _, rl := range s.Process.Rlimits {
			got := f.Rlimits[rl.Type]
			if rl.Type == "RLIMIT_NOFILE" && rl.Soft != rl.Hard {
				got.Soft = rl.Soft // raised by the probe's Go runtime; see TestRlimits
			}
			if got.Soft != rl.Soft || got.Hard != rl.Hard {
				t.Errorf("%s: %+v, want soft %d hard %d", rl.Type, got, rl.Soft, rl.Hard)
			}
		}
	})
	t.Run("capabilities", func(t *testing.T) { checkCaps(t, f, s.Process.Capabilities) })
	t.Run("noNewPrivileges", func(t *testing.T) {
		if want := boolInt(s.Process.NoNewPrivileges); f.NoNewPrivs != want {
			t.Errorf("NoNewPrivs %d, want %d", f.NoNewPrivs, want)
		}
	})
	t.Run("user", func(t *testing.T) {
		u := s.Process.User
		if f.UID != int(u.UID) || f.EUID != int(u.UID) || f.GID != int(u.GID) || f.EGID != int(u.GID) {
			t.Errorf("uid %d euid %d gid %d egid %d, want %d/%d", f.UID, f.EUID, f.GID, f.EGID, u.UID, u.GID)
		}
	})
	t.Run("cwd", func(t *testing.T) {
		if f.Cwd != s.Process.Cwd {
			t.Errorf("cwd %q, want %q", f.Cwd, s.Process.Cwd)
		}
	})
	t.Run("env", func(t *testing.T) { checkEnv(t, f, s.Process.Env) })
	t.Run("fds", func(t *testing.T) { checkFDs(t, f, 3) })
}

func checkNamespaces(t *testing.T, f *facts.Facts, s *specs.Spec) {
	t.Helper()
	configured := map[string]bool{}
	for _, ns := range s.Linux.Namespaces {
		configured[nsProcName[ns.Type]] = true
	}
	for name, host := range hostNS {
		got := f.Namespaces[name]
		switch {
		case got == "":
			t.Errorf("%s namespace: probe could not read it", name)
		case configured[name] && got == host:
			t.Errorf("%s namespace is configured but the container shares the host's (%s)", name, host)
		case !configured[name] && got != host:
			t.Errorf("%s namespace is not configured but the container has its own (%s, host %s)", name, got, host)
		}
	}
}

// checkSpecMounts compares each config.json mount with the container's
// mountinfo: the filesystem type, the per-mount flags the options ask
// for, and the filesystem options that the kernel shows back.
func checkSpecMounts(t *testing.T, f *facts.Facts, s *specs.Spec) {
	t.Helper()
	for _, m := range s.Mounts {
		got, ok := f.MountAt(m.Destination)
		if !ok {
			t.Errorf("mount %s (%s): not in the container's mountinfo", m.Destination, m.Type)
			continue
		}
		if m.Type == "cgroup" || m.Type == "bind" || m.Type == "none" || m.Type == "" {
			// A cgroup v1 mount is a tmpfs of bind mounts; binds
			// show the source's type. Presence is what matters here.
			continue
		}
		if got.FSType != m.Type {
			t.Errorf("mount %s: type %q, want %q", m.Destination, got.FSType, m.Type)
		}
		for _, opt := range m.Options {
			switch opt {
			case "ro", "rw", "nosuid", "nodev", "noexec":
				if !got.HasOption(opt) {
					t.Errorf("mount %s: options %v lack %q", m.Destination, got.Options, opt)
				}
			case "strictatime":
				if got.HasOption("relatime") || got.HasOption("noatime") {
					t.Errorf("mount %s: options %v, want strictatime", m.Destination, got.Options)
				}
			}
			if key, val, ok := strings.Cut(opt, "="); ok {
				if m.Type == "tmpfs" && key == "mode" && normalizeDataOption(key, val) == "mode=1777" {
					continue // tmpfs's default mode, which mountinfo omits
				}
				if want := normalizeDataOption(key, val); !got.HasSuperOption(want) {
					t.Errorf("mount %s: super options %v lack %q", m.Destination, got.SuperOptions, want)
				}
			}
		}
	}
}

// normalizeDataOption spells a filesystem option the way mountinfo
// shows it: modes without a leading zero.
func normalizeDataOption(key, val string) string {
	if key == "mode" || key == "ptmxmode" {
		if n, err := strconv.ParseUint(val, 8, 32); err == nil {
			val = strconv.FormatUint(n, 8)
		}
	}
	return key + "=" + val
}

func checkDevices(t *testing.T, f *facts.Facts) {
	t.Helper()
	devices := []struct {
		name         string
		major, minor uint32
	}{
		{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
	}
	for _, d := range devices {
		st, ok := f.DevEntry(d.name)
		if !ok || st.Type != "char" || st.Major != d.major || st.Minor != d.minor || st.Mode != "0666" {
			t.Errorf("/dev/%s: %+v, want char %d:%d mode 0666", d.name, st, d.major, d.minor)
		}
	}
	links := map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
		"stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx",
	}
	for name, target := range links {
		if st, ok := f.DevEntry(name); !ok || st.Type != "symlink" || st.Link != target {
			t.Errorf("/dev/%s: %+v, want a symlink to %s", name, st, target)
		}
	}
}

func checkEnv(t *testing.T, f *facts.Facts, want []string) {
	t.Helper()
	have := map[string]bool{}
	for _, kv := range f.Env {
		have[kv] = true
	}
	for _, kv := range want {
		if !have[kv] {
			t.Errorf("env lacks %q: %v", kv, f.Env)
		}
	}
}

func checkFDs(t *testing.T, f *facts.Facts, n int) {
	t.Helper()
	if len(f.Fds) != n {
		t.Errorf("open fds %v, want exactly 0..%d", f.Fds, n-1)
		return
	}
	for i, fd := range f.Fds {
		if fd.FD != i {
			t.Errorf("open fds %v, want exactly 0..%d", f.Fds, n-1)
			return
		}
	}
}

// capMask turns capability names into the bit mask /proc shows.
func capMask(t *testing.T, names []string) uint64 {
	t.Helper()
	byName := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		byName["CAP_"+strings.ToUpper(c.String())] = c
	}
	var mask uint64
	for _, n := range names {
		c, ok := byName[n]
		if !ok {
			t.Fatalf("unknown capability %q in the spec", n)
		}
		mask |= 1 << uint(c)
	}
	return mask
}

func checkCaps(t *testing.T, f *facts.Facts, caps *specs.LinuxCapabilities) {
	t.Helper()
	if caps == nil {
		caps = &specs.LinuxCapabilities{}
	}
	sets := []struct {
		key   string
		names []string
	}{
		{"CapBnd", caps.Bounding}, {"CapEff", caps.Effective}, {"CapPrm", caps.Permitted},
		{"CapInh", caps.Inheritable}, {"CapAmb", caps.Ambient},
	}
	for _, set := range sets {
		got, err := strconv.ParseUint(f.Caps[set.key], 16, 64)
		if err != nil {
			t.Errorf("%s: %q unreadable", set.key, f.Caps[set.key])
			continue
		}
		want := capMask(t, set.names)
		if set.key == "CapAmb" {
			// The kernel only lets a capability be ambient if it is
			// also permitted and inheritable.
			want &= capMask(t, caps.Permitted) & capMask(t, caps.Inheritable)
		}
		if got != want {
			t.Errorf("%s = %016x, want %016x (%v)", set.key, got, want, set.names)
		}
	}
}

func existingOnHost(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// probeStats runs `probe stat` on paths in a default container.
func probeStats(t *testing.T, mutate func(*specs.Spec), paths ...string) []facts.Stat {
	t.Helper()
	r := probeCmd(t, mutate, append([]string{"stat"}, paths...)...)
	var out []facts.Stat
	unmarshal(t, r, &out)
	if len(out) != len(paths) {
		t.Fatalf("probe stat returned %d entries for %d paths", len(out), len(paths))
	}
	return out
}

func TestMaskedPaths(t *testing.T) {
	s := defaultSpec(t)
	var files, dirs []string
	for _, p := range existingOnHost(s.Linux.MaskedPaths) {
		if st, _ := os.Stat(p); st != nil && st.IsDir() {
			dirs = append(dirs, p)
		} else {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		t.Skip("no masked file exists on this host")
	}
	for _, st := range probeStats(t, nil, files...) {
		if st.Type != "char" || st.Major != 1 || st.Minor != 3 {
			t.Errorf("masked %s: %+v, want /dev/null (char 1:3)", st.Path, st)
		}
	}
	if r := probeCmd(t, nil, append([]string{"cat"}, files...)...); r.Code != 0 || r.Stdout != "" {
		t.Errorf("reading masked files %v: want empty output: %s", files, r)
	}
	for _, d := range dirs {
		r := probeCmd(t, nil, "ls", d)
		var names []string
		unmarshal(t, r, &names)
		if len(names) != 0 {
			t.Errorf("masked dir %s lists %v, want it empty", d, names)
		}
	}
}

func TestReadonlyPathWrite(t *testing.T) {
	path := "/proc/sys/kernel/domainname"
	r := probeCmd(t, nil, "write", path, "x")
	var res facts.Result
	unmarshal(t, r, &res)
	if res.OK || res.Errno != "EROFS" {
		t.Errorf("write %s: %+v, want EROFS", path, res)
	}
}

func TestReadonlyRootfs(t *testing.T) {
	for _, ro := range []bool{true, false} {
		t.Run(fmt.Sprint("readonly=", ro), func(t *testing.T) {
			c := newCtr(t, func(s *specs.Spec) {
				s.Root.Readonly = ro
				s.Process.Args = []string{"/probe", "write", "/newfile", "hello"}
			})
			r := c.run("run", "--bundle", c.Bundle, c.ID)
			var res facts.Result
			unmarshal(t, r, &res)
			if ro && (res.OK || res.Errno != "EROFS") {
				t.Errorf("write to / with root.readonly: %+v, want EROFS", res)
			}
			if !ro {
				if !res.OK {
					t.Errorf("write to / with a writable root: %+v", res)
				} else if b, _ := os.ReadFile(c.Rootfs + "/newfile"); string(b) != "hello" {
					t.Errorf("host rootfs/newfile holds %q, want hello", b)
				}
			}
		})
	}
}

func TestDomainname(t *testing.T) {
	f, _ := probe(t, func(s *specs.Spec) {
		s.Hostname = "skiffhost"
		s.Domainname = "skiff.example"
	})
	if f.Hostname != "skiffhost" || f.Domainname != "skiff.example" {
		t.Errorf("hostname %q domainname %q, want skiffhost and skiff.example", f.Hostname, f.Domainname)
	}
}

func TestNamespacesUnshared(t *testing.T) {
	f, c := probe(t, func(s *specs.Spec) {
		s.Linux.Namespaces = withoutNamespace(s.Linux.Namespaces, specs.NetworkNamespace)
		s.Linux.Namespaces = withoutNamespace(s.Linux.Namespaces, specs.IPCNamespace)
	})
	checkNamespaces(t, f, c.Spec)
}

// A time namespace shifts the container's monotonic and boot clocks by
// its offsets: the parent writes /proc/PID/timens_offsets when stage 1
// asks, after stage 1 made the namespace and before it forks the init
// (with a user namespace, after stage 1 joined its cgroups; without,
// before). Seen from the host in timens_offsets, and from inside (exec
// joins the namespace) in /proc/uptime.
func TestTimeNamespaceOffsets(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("the kernel has no time namespaces")
	}
	const offset = 10 * 24 * 3600
	for _, userns := range []bool{false, true} {
		t.Run("userns="+strconv.FormatBool(userns), func(t *testing.T) {
			c := cgCtr(t, []string{"sleep", "600"}, func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
				s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
					"monotonic": {Secs: offset},
					"boottime":  {Secs: offset},
				}
				if userns {
					withUserNS(s)
				}
			})
			if userns {
				prepareUserNSBundle(t, c)
			}
			c.create()
			c.mustRun("start", c.ID)
			pid := c.mustState().Pid
			offsets := readString(fmt.Sprintf("/proc/%d/timens_offsets", pid))
			got := map[string]string{}
			for _, line := range strings.Split(offsets, "\n") {
				if f := strings.Fields(line); len(f) == 3 {
					got[f[0]] = f[1] + " " + f[2]
				}
			}
			for _, clock := range []string{"monotonic", "boottime"} {
				if want := fmt.Sprintf("%d 0", offset); got[clock] != want {
					t.Errorf("timens_offsets of the init:\n%s\nwant %s %s", offsets, clock, want)
				}
			}
			uptime := func(s string) float64 {
				f, err := strconv.ParseFloat(strings.Fields(s)[0], 64)
				if err != nil {
					t.Fatalf("uptime %q: %v", s, err)
				}
				return f
			}
			host := uptime(readString("/proc/uptime"))
			inside := uptime(c.mustRun("exec", c.ID, "cat", "/proc/uptime").Stdout)
			if d := inside - host - offset; d < -60 || d > 60 {
				t.Errorf("uptime inside %.0f s, on the host %.0f s: want the host's plus %d s", inside, host, offset)
			}
		})
	}
}
