package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/contrib/probe/facts"
)

// Set up once by TestMain.
var (
	skipReason string // non-empty: every test skips with this
	setupErr   error  // non-nil: every test fails with this
	runtimeBin string
	rootfsSrc  string
	probeSrc   string
	baseSpec   []byte // `runtime spec` output
	hostNS     map[string]string
	idCounter  atomic.Int64
)

// How long one runtime command may take before the test kills it.
const cmdTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		skipReason = "integration tests need root"
	} else {
		setupErr = setup()
	}
	code := m.Run()
	if setupErr == nil && skipReason == "" {
		if leaked := leakedCgroups(); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the suite left %d cgroup directories behind: %v\n", len(leaked), leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedCgroups lists, once every test has ended, the cgroup directories
// named after this process's containers (skt-<pid>-*, skifftest-<pid>-*)
// at the top of each hierarchy or below this process's own cgroup: the
// places a container's cgroup lands. The whole suite must leave none.
func leakedCgroups() []string {
	prefixes := []string{fmt.Sprintf("skt-%d-", os.Getpid()), fmt.Sprintf("skifftest-%d-", os.Getpid())}
	var roots []string
	for _, h := range cgroupHierarchies(os.Getpid()) {
		roots = append(roots, h.mountPoint, filepath.Join(h.mountPoint, h.ownPath))
	}
	var leaked []string
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			for _, p := range prefixes {
				if strings.HasPrefix(d.Name(), p) && !slices.Contains(leaked, path) {
					leaked = append(leaked, path)
					return filepath.SkipDir
				}
			}
			if path != root && strings.Count(strings.TrimPrefix(path, root), "/") > 3 {
				return filepath.SkipDir // containers' cgroups are shallow
			}
			return nil
		})
	}
	return leaked
}

func setup() error {
	buildDir := envOr("SKIFF_BUILD_DIR", "../_build")
	runtimeBin = envOr("SKIFF_BINARY", "../skiff")
	var err error
	if runtimeBin, err = filepath.Abs(runtimeBin); err != nil {
		return err
	}
	if _, err := os.Stat(runtimeBin); err != nil {
		return fmt.Errorf("runtime binary (SKIFF_BINARY): %w; run make build", err)
	}
	rootfsSrc, _ = filepath.Abs(filepath.Join(buildDir, "bundle", "rootfs"))
	probeSrc, _ = filepath.Abs(filepath.Join(buildDir, "probe"))
	for _, p := range []string{rootfsSrc + "/bin/busybox", probeSrc} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w; run make bundle probe", err)
		}
	}
	dir, err := os.MkdirTemp("", "skiff-spec-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	out, err := exec.Command(runtimeBin, "spec", "--bundle", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s spec: %v: %s", runtimeBin, err, out)
	}
	if baseSpec, err = os.ReadFile(filepath.Join(dir, "config.json")); err != nil {
		return fmt.Errorf("%s spec wrote no config.json: %w", runtimeBin, err)
	}
	hostNS = map[string]string{}
	for _, n := range []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"} {
		if target, err := os.Readlink("/proc/self/ns/" + n); err == nil {
			hostNS[n] = target
		}
	}
	return startReaper()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// result is one runtime command's outcome.
type result struct {
	Args   []string
	Stdout string
	Stderr string
	Code   int
	// Where stdout/stderr went: a detached container keeps writing
	// there after the runtime has exited.
	StdoutPath string
	StderrPath string
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout: %s\nstderr: %s",
		strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// runOpts are the less common knobs of a runtime invocation.
type runOpts struct {
	extraFiles []*os.File // become fds 3, 4, ... of the runtime
	env        []string   // added to the runtime's (cleaned) environment
	// wrapper, if set, runs first with the runtime's command line after
	// it (as argv[1:]) and must exec it, e.g. to set LISTEN_PID to the
	// pid the runtime will have.
	wrapper []string
}

// invoke runs the runtime binary with --root root. Stdio goes to
// regular files, never pipes: a container started by create or run -d
// inherits the runtime's stdio, and a pipe would keep exec.Cmd.Wait
// blocked until the container exits.
// Output files go to dir.
func invoke(t testing.TB, root, dir string, opts runOpts, args ...string) result {
	t.Helper()
	full := append([]string{"--root", root}, args...)
	res := result{Args: append([]string{filepath.Base(runtimeBin)}, full...), Code: -1}
	stdout, err := os.CreateTemp(dir, "stdout-")
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.CreateTemp(dir, "stderr-")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	res.StdoutPath, res.StderrPath = stdout.Name(), stderr.Name()

	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, runtimeBin, full...)
	if wrapper := append(runtimeWrapper(), opts.wrapper...); len(wrapper) > 0 {
		cmd = exec.CommandContext(ctx, wrapper[0], append(append(wrapper[1:], runtimeBin), full...)...)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = opts.extraFiles
	cmd.Env = append(cleanEnv(), opts.env...)
	if err := startTracked(cmd); err != nil {
		t.Fatalf("%s: %v", strings.Join(res.Args, " "), err)
	}
	err = waitTracked(cmd)
	res.Stdout, res.Stderr = readString(res.StdoutPath), readString(res.StderrPath)
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Errorf("%s: killed after %v\n%s", strings.Join(res.Args, " "), cmdTimeout, res)
	case err == nil:
		res.Code = 0
	case errors.As(err, &exitErr):
		res.Code = exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(unix.WaitStatus); ok && ws.Signaled() {
			t.Errorf("%s: runtime died of signal %v\n%s", strings.Join(res.Args, " "), ws.Signal(), res)
		}
	default:
		t.Errorf("%s: %v", strings.Join(res.Args, " "), err)
	}
	return res
}

// runtimeWrapper is SKIFF_WRAPPER split on spaces: a program (with its
// arguments) that every runtime invocation goes through and that must
// exec the rest of its command line, e.g. contrib/noopenat2.
func runtimeWrapper() []string { return strings.Fields(os.Getenv("SKIFF_WRAPPER")) }

// cleanEnv drops variables that would change what a runtime passes to
// the container (socket activation fds, sd_notify).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LISTEN_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// requireSetup skips or fails the test when the environment is not
// ready, and arranges the end-of-test check for stray processes.
func requireSetup(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	if _, loaded := orphanChecks.LoadOrStore(t, true); !loaded {
		// Registered before any container's cleanup, so it runs after
		// all of them.
		t.Cleanup(func() {
			orphanChecks.Delete(t)
			checkNoOrphans(t)
		})
	}
}

var orphanChecks sync.Map // *testing.T -> bool

// defaultSpec is the runtime's `spec` output, decoded afresh, set up to
// run the probe.
func defaultSpec(t *testing.T) *specs.Spec {
	t.Helper()
	requireSetup(t)
	var s specs.Spec
	if err := json.Unmarshal(baseSpec, &s); err != nil {
		t.Fatalf("decoding spec output: %v", err)
	}
	s.Process.Terminal = false
	s.Process.Args = []string{"/probe", "json"}
	return &s
}

// parseFacts decodes `probe json` output.
func parseFacts(t *testing.T, r result) *facts.Facts {
	t.Helper()
	var f facts.Facts
	if err := json.Unmarshal([]byte(r.Stdout), &f); err != nil {
		t.Fatalf("probe output is not JSON: %v\n%s", err, r)
	}
	if len(f.Errors) > 0 {
		t.Logf("probe could not read: %v", f.Errors)
	}
	return &f
}

// probe runs a container with the default spec changed by mutate, the
// probe printing its facts, and returns them with the container.
func probe(t *testing.T, mutate func(*specs.Spec)) (*facts.Facts, *ctr) {
	t.Helper()
	c := newCtr(t, mutate)
	return parseFacts(t, c.mustRun("run", "--bundle", c.Bundle, c.ID)), c
}

// probeCmd runs a container whose process is the probe with args, and
// returns the runtime's result (the probe's stdout is the container's).
func probeCmd(t *testing.T, mutate func(*specs.Spec), args ...string) result {
	t.Helper()
	c := newCtr(t, func(s *specs.Spec) {
		if mutate != nil {
			mutate(s)
		}
		s.Process.Args = append([]string{"/probe"}, args...)
	})
	return c.run("run", "--bundle", c.Bundle, c.ID)
}

// unmarshal decodes JSON output or fails the test.
func unmarshal(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
		t.Fatalf("output is not the expected JSON: %v\n%s", err, r)
	}
}

func newID() string {
	return fmt.Sprintf("skt-%d-%d", os.Getpid(), idCounter.Add(1))
}
