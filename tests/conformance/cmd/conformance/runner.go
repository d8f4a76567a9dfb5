package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type result struct {
	Program  string  `json:"program"`
	OK       int     `json:"ok"`
	NotOK    int     `json:"notOk"`
	Skipped  int     `json:"skipped"`
	Todo     int     `json:"todo,omitempty"`
	Pass     bool    `json:"pass"`
	Seconds  float64 `json:"seconds"`
	ExitCode int     `json:"exitCode"`
	Note     string  `json:"note,omitempty"`
}

type runner struct {
	suite   *suite
	sb      *sandbox
	cg      *cgroupJanitor
	timeout time.Duration
	logDir  string
	warn    io.Writer
}

// run executes one validation program and then returns the host to the
// state it was in before: containers, processes, mounts, bundles and
// test cgroups the program left behind are removed.
func (r *runner) run(ctx context.Context, prog string) result {
	res := result{Program: prog}
	outPath := filepath.Join(r.logDir, prog+".out")
	errPath := filepath.Join(r.logDir, prog+".err")
	start := time.Now()
	exitCode, timedOut, runErr := r.exec(ctx, prog, outPath, errPath)
	res.Seconds = time.Since(start).Seconds()
	res.ExitCode = exitCode

	r.cleanup(prog)

	var notes []string
	switch {
	case runErr != nil:
		notes = append(notes, runErr.Error())
	case timedOut:
		notes = append(notes, fmt.Sprintf("timed out after %s", r.timeout))
	case exitCode != 0:
		notes = append(notes, fmt.Sprintf("exit %d", exitCode))
	}
	f, err := os.Open(outPath)
	if err != nil {
		notes = append(notes, err.Error())
	} else {
		sum, err := parseTAP(f)
		f.Close()
		if err != nil {
			notes = append(notes, "reading output: "+err.Error())
		}
		res.OK, res.NotOK, res.Skipped, res.Todo = sum.OK, sum.NotOK, sum.Skipped, sum.Todo
		if sum.NotOK > 0 {
			notes = append(notes, fmt.Sprintf("%d not ok", sum.NotOK))
		}
		notes = append(notes, sum.Problems...)
		// The *_fail programs only speak up when the runtime got it
		// wrong; for any other program silence means it never ran.
		if sum.Docs == 0 && !strings.HasSuffix(prog, "_fail") {
			notes = append(notes, "no TAP output")
		}
	}
	res.Pass = len(notes) == 0
	if !res.Pass {
		res.Note = strings.Join(notes, "; ")
		if tail := lastLine(errPath); tail != "" {
			res.Note += "; stderr: " + tail
		}
	}
	return res
}

// exec runs the program in its own process group so that a timeout can
// stop it together with whatever runtime call it is waiting on. Its
// stdout and stderr go to files, not pipes: detached containers inherit
// nothing from it, but hooks and runtimes might, and a pipe would keep
// Wait blocked until they exit.
func (r *runner) exec(ctx context.Context, prog, outPath, errPath string) (int, bool, error) {
	out, err := os.Create(outPath)
	if err != nil {
		return -1, false, err
	}
	defer out.Close()
	errf, err := os.Create(errPath)
	if err != nil {
		return -1, false, err
	}
	defer errf.Close()

	cmd := exec.Command(filepath.Join(r.suite.binDir, prog))
	cmd.Dir = r.sb.work
	cmd.Env = append(filteredEnv("RUNTIME", "TMPDIR"), "RUNTIME="+r.sb.wrapper, "TMPDIR="+r.sb.tmp)
	cmd.Stdin = nil
	cmd.Stdout = out
	cmd.Stderr = errf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return -1, false, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(r.timeout)
	defer timer.Stop()
	timedOut := false
	var waitErr error
	select {
	case waitErr = <-done:
	case <-timer.C:
		timedOut = true
	case <-ctx.Done():
		timedOut = true
	}
	if timedOut {
		// Our own child's group, by its id.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		waitErr = <-done
	}
	if ctx.Err() != nil {
		return -1, true, errors.New("interrupted")
	}
	code := 0
	if waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return -1, timedOut, waitErr
		}
		code = ee.ExitCode()
	}
	return code, timedOut, nil
}

func filteredEnv(drop ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, d := range drop {
			if strings.HasPrefix(kv, d+"=") {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// cleanup undoes what a program left: containers still known to the
// runtime, then stray processes, then mounts under the sandbox, then the
// bundles, then the suite's test cgroups (emptied by the steps before).
func (r *runner) cleanup(prog string) {
	warn := func(format string, args ...any) {
		fmt.Fprintf(r.warn, "conformance: %s: "+format+"\n", append([]any{prog}, args...)...)
	}
	if ids, _ := os.ReadDir(r.sb.state); len(ids) > 0 {
		for _, id := range ids {
			if !id.IsDir() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			cmd := exec.CommandContext(ctx, r.sb.wrapper, "delete", "--force", id.Name())
			cmd.Dir = r.sb.work
			if out, err := cmd.CombinedOutput(); err != nil {
				warn("delete --force %s: %v: %s", id.Name(), err, strings.TrimSpace(string(out)))
			} else {
				warn("deleted leftover container %s", id.Name())
			}
			cancel()
		}
	}
	if killed := killStrays(strayProcesses(r.sb.dir)); len(killed) > 0 {
		warn("killed leftover processes %s", strings.Join(killed, ", "))
	}
	if n, err := unmountUnder(r.sb.dir); err != nil {
		warn("%v", err)
	} else if n > 0 {
		warn("unmounted %d leftover mounts under %s", n, r.sb.dir)
	}
	for _, d := range []string{r.sb.tmp, r.sb.state} {
		if err := clearDir(d); err != nil {
			warn("clearing %s: %v", d, err)
		}
	}
	// Programs may drop files in their working directory; keep only
	// what the suite needs there.
	if entries, err := os.ReadDir(r.sb.work); err == nil {
		for _, e := range entries {
			if n := e.Name(); n != "runtimetest" && n != "rootfs-amd64.tar.gz" {
				if err := removeTreeSameFS(filepath.Join(r.sb.work, n)); err != nil {
					warn("%v", err)
				}
			}
		}
	}
	if _, errs := r.cg.sweep(); len(errs) > 0 {
		for _, err := range errs {
			warn("%v", err)
		}
	}
}

// lastLine returns the last non-empty line of a file, shortened, to give
// a failing program's table row a hint of why.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > 160 {
		l = l[:157] + "..."
	}
	return l
}
