// Command conformance runs the OCI runtime-tools validation suite against
// an OCI runtime (skiff by default) and reports one line per program.
// tests/conformance/run.sh builds and starts it; see its usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// The suite cannot be run twice at once on one host (it uses the fixed
// cgroups /cgrouptest and testdir/cgrouptest/container), whatever the
// checkout, so the lock lives in /run.
const lockPath = "/run/skiff-conformance.lock"

type options struct {
	repo, runtime, only, cache, results, label, compare string
	expected, cannot, ociVersion                        string
	timeout, budget                                     time.Duration
	check, rewrite, noHugetlb                           bool
}

func main() {
	os.Exit(run())
}

func run() int {
	var o options
	flag.StringVar(&o.repo, "repo", ".", "skiff repository root")
	flag.StringVar(&o.runtime, "runtime", "", "runtime binary to test (default: <repo>/skiff)")
	flag.StringVar(&o.only, "only", "", "comma-separated programs to run (default: all)")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Second, "time limit per program (e.g. 30s; a bare number means seconds)")
	flag.DurationVar(&o.budget, "budget", 9*time.Minute, "time limit for the whole run; programs not started by then fail")
	flag.BoolVar(&o.check, "check", false, "exit non-zero if a program in expected-pass.txt fails (for CI)")
	flag.BoolVar(&o.rewrite, "oci-version-rewrite", false, "rewrite config.json's ociVersion before create/run (crun 1.8.1 wants 1.0.x)")
	flag.StringVar(&o.ociVersion, "oci-version", "1.0.2", "ociVersion written by -oci-version-rewrite")
	flag.BoolVar(&o.noHugetlb, "no-hugetlb-mount", false, "do not mount a v1 hugetlb hierarchy for the run")
	flag.StringVar(&o.cache, "cache", "", "build and log directory (default: <repo>/_build/conformance)")
	flag.StringVar(&o.results, "results", "", "write JSON results here (default: <cache>/results-<label>.json)")
	flag.StringVar(&o.label, "label", "", "name of the runtime in reports (default: from --version)")
	flag.StringVar(&o.compare, "compare", "", "comma-separated results files: print a side-by-side Markdown table and exit")
	flag.StringVar(&o.expected, "expected", "", "expected-pass list (default: <repo>/tests/conformance/expected-pass.txt)")
	flag.StringVar(&o.cannot, "cannot", "", "cannot-pass list (default: <repo>/tests/conformance/cannot-pass.txt)")
	// Accept "--timeout 30" as the usage has it.
	for i, a := range os.Args {
		if i > 0 && (os.Args[i-1] == "--timeout" || os.Args[i-1] == "-timeout") && regexp.MustCompile(`^\d+(\.\d+)?$`).MatchString(a) {
			os.Args[i] = a + "s"
		} else if m := regexp.MustCompile(`^(--?timeout=)(\d+(\.\d+)?)$`).FindStringSubmatch(a); m != nil {
			os.Args[i] = m[1] + m[2] + "s"
		}
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "conformance: unexpected arguments %q\n", flag.Args())
		return 2
	}
	if err := o.defaults(); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
		return 2
	}
	lists, err := loadLists(o.expected, o.cannot)
	if err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
		return 2
	}
	if o.compare != "" {
		if err := compareReports(os.Stdout, strings.Split(o.compare, ","), lists); err != nil {
			fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
			return 2
		}
		return 0
	}
	code, err := runSuite(o, lists)
	if err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
		return 2
	}
	return code
}

func (o *options) defaults() error {
	repo, err := filepath.Abs(o.repo)
	if err != nil {
		return err
	}
	o.repo = repo
	if o.cache == "" {
		o.cache = filepath.Join(repo, "_build", "conformance")
	}
	if o.expected == "" {
		o.expected = filepath.Join(repo, "tests", "conformance", "expected-pass.txt")
	}
	if o.cannot == "" {
		o.cannot = filepath.Join(repo, "tests", "conformance", "cannot-pass.txt")
	}
	if !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+[A-Za-z0-9.+-]*$`).MatchString(o.ociVersion) {
		return fmt.Errorf("-oci-version %q is not a version", o.ociVersion)
	}
	if o.timeout <= 0 || o.budget <= 0 {
		return errors.New("-timeout and -budget must be positive")
	}
	return nil
}

func runSuite(o options, lists *programLists) (int, error) {
	if os.Geteuid() != 0 {
		return 0, errors.New("the suite creates containers and cgroups: run as root")
	}
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return 0, fmt.Errorf("another conformance run holds %s; the suite cannot run twice at once", lockPath)
	}

	runtime, label, version, err := resolveRuntime(o)
	if err != nil {
		return 0, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := os.MkdirAll(o.cache, 0o755); err != nil {
		return 0, err
	}
	s, err := buildSuite(ctx, o.repo, o.cache, os.Stderr)
	if err != nil {
		return 0, err
	}
	listProblems := lists.validate(s.programs)
	for _, p := range listProblems {
		fmt.Fprintf(os.Stderr, "conformance: lists: %s\n", p)
	}
	if o.check && len(listProblems) > 0 {
		return 0, errors.New("fix tests/conformance/expected-pass.txt and cannot-pass.txt first")
	}
	progs, err := selectPrograms(s.programs, o.only)
	if err != nil {
		return 0, err
	}

	logDir := filepath.Join(o.cache, "logs", label)
	if o.only == "" {
		// Stale outputs of programs that no longer exist would mislead.
		if err := os.RemoveAll(logDir); err != nil {
			return 0, err
		}
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return 0, err
	}

	var huge *hugetlbMount
	if !o.noHugetlb {
		if huge, err = mountHugetlbV1(); err != nil {
			fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
		} else if huge != nil && huge.adopted {
			fmt.Fprintf(os.Stderr, "conformance: adopting the v1 hugetlb hierarchy an earlier run left at %s\n", huge.dir)
		} else if huge != nil {
			fmt.Fprintf(os.Stderr, "conformance: mounted a v1 hugetlb hierarchy at %s for this run\n", huge.dir)
		}
	}
	results, runErr := runPrograms(ctx, o, s, runtime, progs, logDir, lists.racy)
	if err := huge.release(30 * time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
	} else if huge != nil {
		fmt.Fprintf(os.Stderr, "conformance: unmounted and removed %s\n", huge.dir)
	}
	if runErr != nil {
		return 0, runErr
	}

	printTable(os.Stdout, results, lists)
	printFailures(os.Stdout, results, lists)
	resultsPath := o.results
	if resultsPath == "" {
		// A partial run must not replace the last full one.
		name := "results-" + label + ".json"
		if o.only != "" {
			name = "results-" + label + ".partial.json"
		}
		resultsPath = filepath.Join(o.cache, name)
	}
	if err := writeReport(resultsPath, runReport{Runtime: runtime, Label: label, Version: version, Results: results}); err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stdout, "\nruntime %s (%s); outputs in %s; results in %s\n", runtime, version, logDir, resultsPath)

	code := 0
	if o.check {
		var bad, surprise []string
		for _, r := range results {
			if !r.Pass && lists.expected[r.Program] {
				bad = append(bad, r.Program)
			}
			if r.Pass && lists.cannot[r.Program] != "" {
				surprise = append(surprise, r.Program)
			}
		}
		if len(surprise) > 0 {
			fmt.Fprintf(os.Stdout, "check: passed although listed in cannot-pass.txt (is the reason still true?): %s\n", strings.Join(surprise, ", "))
		}
		if len(bad) > 0 {
			fmt.Fprintf(os.Stdout, "check: FAILED: expected to pass: %s\n", strings.Join(bad, ", "))
			code = 1
		} else {
			fmt.Fprintln(os.Stdout, "check: every program in expected-pass.txt that ran passed")
		}
	}
	passed, failed := counts(results)
	fmt.Fprintf(os.Stdout, "%d passed, %d failed\n", passed, failed)
	if o.check {
		// The verdict CI reads: the programs that must pass, and those
		// that cannot pass here (each with its reason) as skipped.
		var ePass, eFail, cannot int
		for _, r := range results {
			switch {
			case lists.expected[r.Program] && r.Pass:
				ePass++
			case lists.expected[r.Program]:
				eFail++
			default:
				cannot++
			}
		}
		fmt.Fprintf(os.Stdout, "check: %d passed, %d failed, %d skipped\n", ePass, eFail, cannot)
	}
	if ctx.Err() != nil {
		return 130, nil
	}
	return code, nil
}

// runPrograms runs progs one at a time in a fresh sandbox and always
// removes the sandbox, the leftover cgroups and the mounts afterwards.
func runPrograms(ctx context.Context, o options, s *suite, runtime string, progs []string, logDir string, racy map[string]string) ([]result, error) {
	cg, err := newCgroupJanitor()
	if err != nil {
		return nil, err
	}
	for _, c := range cg.warnPreexisting() {
		fmt.Fprintf(os.Stderr, "conformance: %s existed before the run; leaving it alone (it may affect the cgroup programs)\n", c)
	}
	ociVersion := ""
	if o.rewrite {
		ociVersion = o.ociVersion
	}
	sb, err := newSandbox(s, runtime, ociVersion)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := sb.remove(); err != nil {
			fmt.Fprintf(os.Stderr, "conformance: removing %s: %v\n", sb.dir, err)
		}
		if _, errs := cg.sweep(); len(errs) > 0 {
			fmt.Fprintf(os.Stderr, "conformance: %v\n", errors.Join(errs...))
		}
	}()
	r := &runner{suite: s, sb: sb, cg: cg, timeout: o.timeout, logDir: logDir, warn: os.Stderr}
	deadline := time.Now().Add(o.budget)
	var results []result
	for i, p := range progs {
		if ctx.Err() != nil {
			results = append(results, result{Program: p, Note: "not run: interrupted"})
			continue
		}
		if time.Now().After(deadline) {
			results = append(results, result{Program: p, Note: fmt.Sprintf("not run: the run exceeded its %s budget", o.budget)})
			continue
		}
		res := r.run(ctx, p)
		if _, isRacy := racy[p]; isRacy {
			for attempt := 2; !res.Pass && attempt <= racyAttempts && ctx.Err() == nil; attempt++ {
				res = r.run(ctx, p)
				if res.Pass {
					res.Note = fmt.Sprintf("racy program: passed on attempt %d", attempt)
				}
			}
		}
		verdict := "FAIL"
		if res.Pass {
			verdict = "PASS"
		}
		fmt.Fprintf(os.Stderr, "[%2d/%d] %-32s %s %5.1fs\n", i+1, len(progs), p, verdict, res.Seconds)
		results = append(results, res)
	}
	return results, nil
}

func selectPrograms(all []string, only string) ([]string, error) {
	if only == "" {
		return all, nil
	}
	have := map[string]bool{}
	for _, p := range all {
		have[p] = true
	}
	var out []string
	for _, p := range strings.Split(only, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !have[p] {
			return nil, fmt.Errorf("-only: no validation program %q", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// resolveRuntime finds the runtime binary and a label for reports. Any
// runtime is accepted; its version only names it.
func resolveRuntime(o options) (path, label, version string, err error) {
	rt := o.runtime
	if rt == "" {
		rt = filepath.Join(o.repo, "skiff")
		if _, err := os.Stat(rt); err != nil {
			return "", "", "", fmt.Errorf("%s not found: run `make build` first or pass --runtime", rt)
		}
	}
	path, err = exec.LookPath(rt)
	if err != nil {
		return "", "", "", fmt.Errorf("runtime %q: %w", rt, err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return "", "", "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	version = "unknown version"
	if out, err := exec.CommandContext(ctx, path, "--version").Output(); err == nil {
		if first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n"); first != "" {
			version = first
		}
	}
	label = o.label
	if label == "" {
		label = filepath.Base(path)
		if m := regexp.MustCompile(`\d+\.\d+(\.\d+)?`).FindString(version); m != "" {
			label += "-" + m
		}
	}
	return path, label, version, nil
}
