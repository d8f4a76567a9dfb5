package tests

// CVE-2019-5736: a container that gets the runtime's own binary to run
// inside it (entrypoint /proc/self/exe, or a #!/proc/self/exe script)
// must not be able to write to that binary: not to ./skiff, not to the
// sealed copy every init runs from.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The entrypoint forms run the runtime binary as the container's
// process; whatever it does then, the host binaries stay as they were.
func TestCVE20195736SelfExeEntrypoint(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		script string // replaces /bin/sh in the image
	}{
		{name: "proc-self-exe-init", args: []string{"/proc/self/exe", "init"}},
		{name: "proc-self-exe-init-fd", args: []string{"/proc/self/exe", "init", "3"}},
		{name: "proc-self-exe-bare", args: []string{"/proc/self/exe"}},
		{name: "shebang", args: []string{"/bin/sh", "-c", "true"}, script: "#!/proc/self/exe\n"},
		{name: "shebang-init", args: []string{"/bin/sh"}, script: "#!/proc/self/exe init\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newHostGuard(t)
			c := newCtr(t, specChain(withCaps(), func(s *specs.Spec) { s.Process.Args = tc.args }))
			installRuntimeLibs(t, c)
			if tc.script != "" {
				sh := filepath.Join(c.Rootfs, "bin", "sh")
				os.Remove(sh)
				if err := os.WriteFile(sh, []byte(tc.script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			r := c.run("run", "--bundle", c.Bundle, c.ID)
			noPanic(t, r)
			t.Logf("exit %d; stderr: %s", r.Code, strings.TrimSpace(r.Stderr))
			g.Check("after running " + strings.Join(tc.args, " "))
		})
	}
}

// While a container is only created its init is the runtime binary:
// from the host its exe must be the sealed copy, never ./skiff.
func TestCVE20195736InitRunsSealedCopy(t *testing.T) {
	c := newCtr(t, sleeper)
	c.create()
	pid := c.mustState().Pid
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The init runs the shared copy through a detached read-only bind
	// mount of its directory, so the link reads "/skiff-...".
	if exe == runtimeBin || !strings.HasPrefix(filepath.Base(exe), "skiff-") {
		t.Errorf("created init runs %s, want skiff's sealed copy (runtime is %s)", exe, runtimeBin)
	}
	// Not even the host's root may open it for writing.
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/exe", pid), os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Fatalf("opened the init's binary for writing from the host")
	}
	if !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.EPERM) {
		t.Errorf("open for writing: %v, want EROFS or EPERM", err)
	}
}

// exeReport mirrors contrib/escape's ExeReport.
type exeReport struct {
	Loops     int            `json:"loops"`
	Attempts  int            `json:"attempts"`
	SkiffSeen int            `json:"skiff_seen"`
	Held      int            `json:"held"`
	Errnos    map[string]int `json:"errnos"`
	Breaches  []struct {
		Pid     int    `json:"pid"`
		How     string `json:"how"`
		Exe     string `json:"exe"`
		Cmdline string `json:"cmdline"`
	} `json:"breaches"`
	Cleared []json.RawMessage `json:"cleared"`
	Sealed  []json.RawMessage `json:"sealed"`
}

// The attack proper: an attacker container (A) loops over every
// /proc/PID/exe it can see and tries to open it for writing, directly
// and by reopening a read-only fd through /proc/self/fd, while the host
// repeatedly (1) execs /proc/self/exe in A, (2) execs a #!/proc/self/exe
// script in A, and (3) creates, starts and deletes a container B that
// shares A's pid namespace, so that B's init (the runtime binary until
// start) is in A's view for the whole created state.
func TestCVE20195736Attack(t *testing.T) {
	cases := []struct {
		name     string
		extra    []string
		clearImm bool
	}{
		// Docker's default capabilities.
		{name: "docker-caps"},
		// Lets A open /proc/PID/exe of the non-dumpable init.
		{name: "cap-sys-ptrace", extra: []string{"CAP_SYS_PTRACE"}},
		// Lets A clear the immutable flag that is the sealed copy's
		// only protection (a sealed memfd cannot be unsealed).
		{name: "cap-linux-immutable", extra: []string{"CAP_LINUX_IMMUTABLE"}, clearImm: true},
		{name: "cap-sys-ptrace+linux-immutable", extra: []string{"CAP_SYS_PTRACE", "CAP_LINUX_IMMUTABLE"}, clearImm: true},
	}
	rounds := secEnvInt("SKIFF_SECURITY_EXE_ROUNDS", 15)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newHostGuard(t)
			args := []string{"/escape", "exe", "-stop", "/stop", "-max", "3m"}
			if tc.clearImm {
				args = append(args, "-clear-immutable")
			}
			a := newCtr(t, specChain(withCaps(tc.extra...), func(s *specs.Spec) { s.Process.Args = args }))
			installEscape(t, a)
			installRuntimeLibs(t, a)
			if err := os.WriteFile(filepath.Join(a.Rootfs, "bin", "evilsh"), []byte("#!/proc/self/exe\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			created := a.create()
			aPid := a.mustState().Pid
			g.SnapshotBinaries() // the sealed copy exists now, untouched so far
			a.mustRun("start", a.ID)

			b := newCtr(t, specChain(withCaps(), func(s *specs.Spec) {
				s.Process.Args = []string{"/proc/self/exe", "init"}
				// A's rootfs has the runtime's libraries, so B's
				// process really runs the runtime binary after start.
				s.Root.Path = a.Rootfs
				for i, ns := range s.Linux.Namespaces {
					if ns.Type == specs.PIDNamespace {
						s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", aPid)
					}
				}
			}))
			for i := 0; i < rounds; i++ {
				noPanic(t, a.run("exec", a.ID, "/proc/self/exe", "init"))
				noPanic(t, a.run("exec", a.ID, "/bin/evilsh"))
				pid, r := createQuiet(b)
				noPanic(t, r)
				if pid == 0 {
					// ETXTBSY here means A holds the sealed copy open
					// for writing.
					t.Errorf("creating B in A's pid namespace (round %d): %s", i, r)
					break
				}
				time.Sleep(30 * time.Millisecond) // B's init waits, in A's view
				noPanic(t, b.run("start", b.ID))
				if _, err := waitExit(pid, cmdTimeout); err != nil {
					t.Error(err)
				}
				noPanic(t, b.run("delete", "--force", b.ID))
			}
			if err := os.WriteFile(filepath.Join(a.Rootfs, "stop"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := waitExit(aPid, cmdTimeout); err != nil {
				t.Fatal(err)
			}
			var rep exeReport
			out := readString(created.StdoutPath)
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("attacker output is not a report: %v\nstdout: %s\nstderr: %s", err, out, readString(created.StderrPath))
			}
			t.Logf("attacker: %d loops, %d open attempts, saw %d skiff processes, held %d foreign binaries, %d opens of write-sealed memfds; errnos %v",
				rep.Loops, rep.Attempts, rep.SkiffSeen, rep.Held, len(rep.Sealed), rep.Errnos)
			for _, br := range rep.Breaches {
				t.Errorf("ESCAPE: opened a host binary for writing: %s (pid %d, exe %q, cmdline %q)", br.How, br.Pid, br.Exe, br.Cmdline)
			}
			for _, cl := range rep.Cleared {
				t.Errorf("ESCAPE: cleared the immutable flag of skiff's sealed copy: %s", cl)
			}
			if rep.SkiffSeen == 0 {
				t.Errorf("the attacker never saw a skiff process: the attack was not exercised")
			}
			g.Check("after the attack")
		})
	}
}

// installRuntimeLibs copies the runtime's shared libraries and dynamic
// loader into c's rootfs. The busybox image has none, so without them
// the kernel cannot start a dynamically linked runtime in the container
// (ENOENT for the ELF interpreter) and the attack would stop there by
// accident; any glibc-based image has them.
func installRuntimeLibs(t *testing.T, c *ctr) {
	t.Helper()
	out, err := exec.Command("ldd", runtimeBin).CombinedOutput()
	if err != nil {
		t.Logf("ldd %s: %v (%s): assuming a static runtime", runtimeBin, err, out)
		return
	}
	for _, m := range regexp.MustCompile(`(?m)(?:=>\s*|^\s*)(/\S+)`).FindAllStringSubmatch(string(out), -1) {
		dst := filepath.Join(c.Rootfs, m[1])
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(m[1], dst, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
