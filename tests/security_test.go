package tests

// Shared machinery of the escape tests (security_*_test.go): the
// attacker helper (contrib/escape), a guard that proves the host was not
// touched, the racing second process, and a console socket.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The race tests run this many create+delete rounds each, and stop
// early after raceBudget. runc's advisories ask for at least 1,000.
// The default is lower, 200, so that the whole security suite stays
// near three minutes on two cores (a round takes ~45 ms while the
// flipper spins on the other core); run with 1000 before a release.
func raceIterations() int { return secEnvInt("SKIFF_SECURITY_ITERATIONS", 200) }

func raceBudget() time.Duration {
	return time.Duration(secEnvInt("SKIFF_SECURITY_RACE_SECONDS", 60)) * time.Second
}

func secEnvInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}

// sealedExeDir is where skiff keeps the immutable copy of itself that
// every init runs from (libcontainer/exe.go).
const sealedExeDir = "/run/skiff-exe"

// escapeBinary builds contrib/escape once per test run: static, so the
// same file runs in the busybox rootfs and on the host.
// SKIFF_ESCAPE_BINARY names a prebuilt one instead.
var escapeBinary = sync.OnceValues(func() (string, error) {
	if p := os.Getenv("SKIFF_ESCAPE_BINARY"); p != "" {
		return filepath.Abs(p)
	}
	out, err := filepath.Abs(filepath.Join(envOr("SKIFF_BUILD_DIR", "../_build"), "escape"))
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", tmp, "../contrib/escape")
	cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("building contrib/escape: %v\n%s", err, b)
	}
	return out, os.Rename(tmp, out)
})

// installEscape puts the attacker helper at /escape in c's rootfs.
func installEscape(t *testing.T, c *ctr) {
	t.Helper()
	bin, err := escapeBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFile(bin, filepath.Join(c.Rootfs, "escape"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// hostGuard is the host-side proof that an attack changed nothing: a
// canary tree the attacks aim at, the runtime binary and its sealed
// copies, the host's mounts, and the procfs files the attacks target.
// It is made before any container, so its cleanup runs after theirs.
type hostGuard struct {
	t      *testing.T
	Canary string // a host directory holding canaryFile and ptmx
	// CanaryFile is a host file an image symlink points at.
	CanaryFile string
	tree       map[string]string
	binaries   map[string]string // path -> sha256
	immutable  map[string]bool   // sealed copy -> FS_IMMUTABLE_FL set
	mounts     map[string]bool
	procFiles  map[string]string
	sysrq      int
}

// guardedProcFiles are host files the procfs-redirect attacks aim at.
var guardedProcFiles = []string{
	"/proc/sys/kernel/core_pattern",
	"/proc/sys/kernel/sysrq",
	"/proc/sys/kernel/domainname",
	"/proc/sys/net/ipv4/ip_forward",
}

func newHostGuard(t *testing.T) *hostGuard {
	t.Helper()
	requireSetup(t)
	base, err := os.MkdirTemp("", "skiff-canary-")
	if err != nil {
		t.Fatal(err)
	}
	g := &hostGuard{t: t, Canary: filepath.Join(base, "canary")}
	g.CanaryFile = filepath.Join(g.Canary, "canary-file")
	for _, d := range []string{g.Canary, filepath.Join(g.Canary, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{"canary-file": "host canary\n", "ptmx": "", "sub/keep": "keep\n"} {
		if err := os.WriteFile(filepath.Join(g.Canary, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g.tree = snapshotTree(g.Canary)
	g.binaries = binaryHashes()
	g.immutable = sealedImmutable()
	g.mounts = mountSet()
	g.procFiles = map[string]string{}
	for _, p := range guardedProcFiles {
		g.procFiles[p] = readString(p)
	}
	g.sysrq = sysrqLines()
	t.Cleanup(func() {
		g.Check("at the end of the test")
		os.RemoveAll(base)
	})
	return g
}

// CheckCanary is the cheap check, for every round of a race.
func (g *hostGuard) CheckCanary(when string) bool {
	g.t.Helper()
	now := snapshotTree(g.Canary)
	ok := true
	for p, v := range now {
		if old, found := g.tree[p]; !found {
			g.t.Errorf("%s: %s appeared in the host canary dir (%s)", when, p, v)
			ok = false
		} else if old != v {
			g.t.Errorf("%s: host canary %s changed: %s -> %s", when, p, old, v)
			ok = false
		}
	}
	for p := range g.tree {
		if _, found := now[p]; !found {
			g.t.Errorf("%s: host canary %s was removed", when, p)
			ok = false
		}
	}
	for _, m := range hostMountsUnder(g.Canary) {
		g.t.Errorf("%s: %s mounted on the host canary %s", when, m.FSType, m.MountPoint)
		_ = unix.Unmount(m.MountPoint, unix.MNT_DETACH)
		ok = false
	}
	return ok
}

// Check is the full check.
func (g *hostGuard) Check(when string) {
	t := g.t
	t.Helper()
	g.CheckCanary(when)
	now := binaryHashes()
	for p, h := range g.binaries {
		if h2, ok := now[p]; ok && h2 != h {
			t.Errorf("%s: %s CHANGED: sha256 %s -> %s", when, p, h, h2)
		}
	}
	g.checkSealedImmutable(when)
	after := mountSet()
	for m := range after {
		if !g.mounts[m] && g.mountMatters(m) {
			t.Errorf("%s: new host mount: %s", when, m)
		}
	}
	for m := range g.mounts {
		if !after[m] && g.mountMatters(m) {
			t.Errorf("%s: host mount gone: %s", when, m)
		}
	}
	for p, v := range g.procFiles {
		if now := readString(p); now != v {
			t.Errorf("%s: host %s changed: %q -> %q", when, p, v, now)
		}
	}
	if n := sysrqLines(); n > g.sysrq {
		t.Errorf("%s: %d new SysRq lines in the kernel log", when, n-g.sysrq)
	}
}

// mountMatters picks, from the host's mount table, the entries an
// escape would touch: anything under the canary, and the host's own
// system mounts. Other work on the machine (other tests, builds in
// chroots, a cgroup hierarchy being mounted) changes the rest while
// this test runs, so the rest is not compared.
func (g *hostGuard) mountMatters(key string) bool {
	f := strings.Split(key, "\t")
	point := f[0]
	if point == filepath.Dir(g.Canary) || strings.HasPrefix(point, filepath.Dir(g.Canary)+"/") {
		return true
	}
	if len(f) > 3 && (strings.Contains(f[2], g.Canary) || strings.Contains(f[3], g.Canary)) {
		return true
	}
	switch point {
	case "/", "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/run", "/tmp", "/etc", "/sys/fs/cgroup":
		return true
	}
	return false
}

// snapshotTree maps each path under dir to its type, size, mode and a
// hash of its content (or link target).
func snapshotTree(dir string) map[string]string {
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return nil
		}
		desc := fmt.Sprintf("%v size=%d", info.Mode(), info.Size())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		case d.Type().IsRegular():
			desc += " sha256=" + fileHash(p)
		}
		out[rel] = desc
		return nil
	})
	return out
}

func fileHash(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}

// binaryHashes hashes the runtime binary and its sealed copies (those
// of its size: the directory also holds copies of other builds).
func binaryHashes() map[string]string {
	out := map[string]string{runtimeBin: fileHash(runtimeBin)}
	self, err := os.Stat(runtimeBin)
	if err != nil {
		return out
	}
	copies, _ := filepath.Glob(filepath.Join(sealedExeDir, "skiff-*"))
	for _, p := range copies {
		if st, err := os.Stat(p); err == nil && st.Size() == self.Size() {
			out[p] = fileHash(p)
		}
	}
	return out
}

// SnapshotBinaries takes the hashes again, for a test whose first
// create made the sealed copy.
func (g *hostGuard) SnapshotBinaries() {
	g.binaries = binaryHashes()
	g.immutable = sealedImmutable()
}

// checkSealedImmutable fails if a sealed copy that was immutable when
// the test began lost the flag. It does not seal it again: skiff does
// that itself on its next use, and a copy may be without the flag
// because some skiff is pruning it right now.
func (g *hostGuard) checkSealedImmutable(when string) {
	g.t.Helper()
	for p, was := range g.immutable {
		if now, ok := immutableFlag(p); was && ok && !now {
			if _, err := os.Stat(p); err == nil {
				g.t.Errorf("%s: sealed copy %s is no longer immutable", when, p)
			}
		}
	}
}

func sealedImmutable() map[string]bool {
	out := map[string]bool{}
	copies, _ := filepath.Glob(filepath.Join(sealedExeDir, "skiff-*"))
	for _, p := range copies {
		if imm, ok := immutableFlag(p); ok {
			out[p] = imm
		}
	}
	return out
}

func immutableFlag(path string) (immutable, ok bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, false
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	return flags&0x10 != 0, err == nil
}

func mountSet() map[string]bool {
	out := map[string]bool{}
	for _, m := range hostMounts() {
		out[strings.Join([]string{m.MountPoint, m.FSType, m.Source, m.Root}, "\t")] = true
	}
	return out
}

// sysrqLines counts SysRq messages in the kernel log: a write that got
// through to the host's /proc/sysrq-trigger logs one.
func sysrqLines() int {
	buf := make([]byte, 1<<20)
	n, err := unix.Klogctl(unix.SYSLOG_ACTION_READ_ALL, buf)
	if err != nil || n <= 0 {
		return 0
	}
	return bytes.Count(bytes.ToLower(buf[:n]), []byte("sysrq"))
}

// flipper is the racing second process: contrib/escape flip, on the
// host, exchanging dir/name with a symlink to target until stopped, or
// with onCreate renaming a symlink over dir/name whenever it is created.
type flipper struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done bool
}

func startFlipper(t *testing.T, dir, name, target string, onCreate bool) *flipper {
	t.Helper()
	bin, err := escapeBinary()
	if err != nil {
		t.Fatal(err)
	}
	f := &flipper{}
	// The flipper stops by itself after twice the race budget, in case
	// the test binary dies before it can signal it.
	args := []string{"flip", "-dir", dir, "-name", name, "-target", target, "-max", (2*raceBudget() + time.Minute).String()}
	if onCreate {
		args = append(args, "-on-create")
	}
	f.cmd = exec.Command(bin, args...)
	f.cmd.Stdout, f.cmd.Stderr = &f.out, &f.out
	if err := startTracked(f.cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.stop(t) })
	return f
}

// stop ends the flipper by its PID and returns how many flips it made.
func (f *flipper) stop(t *testing.T) int {
	t.Helper()
	if f.done {
		return 0
	}
	f.done = true
	_ = f.cmd.Process.Signal(unix.SIGTERM)
	err := waitTracked(f.cmd)
	n, convErr := strconv.Atoi(strings.TrimSpace(f.out.String()))
	if err != nil || convErr != nil {
		t.Errorf("flipper: %v: %s", err, f.out.String())
	}
	return n
}

// consoleSocket listens for the pty master a runtime sends with
// --console-socket; master returns it (nil if none came).
func consoleSocket(t *testing.T) (path string, master func() *os.File) {
	t.Helper()
	dir, err := os.MkdirTemp("", "skcs")
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got *os.File
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			if fds, err := unix.ParseUnixRights(&m); err == nil {
				for i, fd := range fds {
					if i == 0 {
						mu.Lock()
						got = os.NewFile(uintptr(fd), "pty-master")
						mu.Unlock()
					} else {
						unix.Close(fd)
					}
				}
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		if got != nil {
			got.Close()
		}
		os.RemoveAll(dir)
	})
	return path, func() *os.File {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

// replaceWithSymlink turns rootfs/rel into a symlink to target,
// whatever was there.
func replaceWithSymlink(t *testing.T, c *ctr, rel, target string) {
	t.Helper()
	p := filepath.Join(c.Rootfs, rel)
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// withoutMount drops the spec's mounts at dest.
func withoutMount(dest string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		var keep []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination != dest {
				keep = append(keep, m)
			}
		}
		s.Mounts = keep
	}
}

// specChain applies several spec changes in order.
func specChain(fns ...func(*specs.Spec)) func(*specs.Spec) {
	return func(s *specs.Spec) {
		for _, f := range fns {
			if f != nil {
				f(s)
			}
		}
	}
}

// dockerCaps is Docker's default capability set: what a typical
// attacker container holds (the `spec` default is much smaller, and
// without CAP_DAC_OVERRIDE no write to a root-owned binary even gets as
// far as the runtime's defences).
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// withCaps gives the process dockerCaps plus extra in every set but
// inheritable and ambient.
func withCaps(extra ...string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		caps := append(append([]string{}, dockerCaps...), extra...)
		sort.Strings(caps)
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding: caps, Effective: caps, Permitted: caps,
		}
	}
}

// createQuiet creates c's container with a pid file instead of a
// `state` call, for the loops that create thousands; it returns the
// init's pid (0 if create failed) and the result.
func createQuiet(c *ctr, extra ...string) (int, result) {
	c.t.Helper()
	pidFile := filepath.Join(c.io, "pid")
	_ = os.Remove(pidFile)
	args := append([]string{"create", "--bundle", c.Bundle, "--pid-file", pidFile}, extra...)
	r := c.run(append(args, c.ID)...)
	if r.Code != 0 {
		return 0, r
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readString(pidFile)))
	if err != nil {
		c.t.Errorf("create succeeded but the pid file is unreadable: %v\n%s", err, r)
		return 0, r
	}
	c.remember(pid)
	return pid, r
}

// hostFDs lists pid's open fds as the host sees them: fd -> target.
func hostFDs(pid int) (map[int]string, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out[n] = target
	}
	return out, nil
}

// noPanic fails the test if the runtime's output shows a Go panic.
func noPanic(t *testing.T, r result) {
	t.Helper()
	if strings.Contains(r.Stderr, "panic:") || strings.Contains(r.Stderr, "goroutine ") {
		t.Errorf("runtime panicked: %s", r)
	}
}

// Each container gets a session keyring of its own, named as runc names
// it, which exec'd processes join; --no-new-keyring keeps the caller's.
// Without it, every container would share the host's session keyring
// (and the keys in it).
func TestSessionKeyring(t *testing.T) {
	keyringName := func(desc string) string {
		if i := strings.LastIndexByte(desc, ';'); i >= 0 {
			return desc[i+1:]
		}
		return desc
	}
	c := newCtr(t, sleeper)
	c.mustRun("run", "--detach", "--bundle", c.Bundle, c.ID)
	c.remember(c.mustState().Pid)
	r := c.mustRun("exec", c.ID, "/probe", "json")
	f := parseFacts(t, r)
	if got, want := keyringName(f.SessionKeyring), "_ses."+c.ID; got != want {
		t.Errorf("exec'd process: session keyring %q (%s), want %q", got, f.SessionKeyring, want)
	}

	f, _ = probe(t, nil)
	if name := keyringName(f.SessionKeyring); !strings.HasPrefix(name, "_ses.") || name == "_ses."+c.ID {
		t.Errorf("second container: session keyring %q, want its own _ses.<id>", f.SessionKeyring)
	}

	host, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, unix.KEY_SPEC_SESSION_KEYRING)
	if err != nil {
		t.Fatal(err)
	}
	c2 := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{"/probe", "json"} })
	r = c2.mustRun("run", "--no-new-keyring", "--bundle", c2.Bundle, c2.ID)
	if got := parseFacts(t, r).SessionKeyring; keyringName(got) != keyringName(host) {
		t.Errorf("--no-new-keyring: session keyring %q, want the caller's %q", got, host)
	}
}
