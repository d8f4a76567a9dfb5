package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const (
	suiteModule  = "github.com/opencontainers/runtime-tools"
	validationPk = suiteModule + "/validation/..."
	runtimetest  = suiteModule + "/cmd/runtimetest"
	busyboxPath  = "/bin/busybox"
	// Bump when the layout of the cache or the rootfs recipe changes.
	cacheFormat = "4"
)

// suite is a built copy of the validation programs and what they need in
// their working directory.
type suite struct {
	binDir      string // the validation programs
	runtimetest string // static runtimetest binary
	rootfs      string // rootfs-amd64.tar.gz
	programs    []string
}

// buildSuite builds the suite into cache unless the stamp shows the
// cached copy came from the same module versions, Go and busybox.
func buildSuite(ctx context.Context, repo, cache string, log io.Writer) (*suite, error) {
	s := &suite{
		binDir:      filepath.Join(cache, "bin"),
		runtimetest: filepath.Join(cache, "runtimetest"),
		rootfs:      filepath.Join(cache, "rootfs-amd64.tar.gz"),
	}
	key, err := suiteKey(ctx, repo)
	if err != nil {
		return nil, err
	}
	stamp := filepath.Join(cache, "stamp")
	if old, err := os.ReadFile(stamp); err != nil || string(old) != key || !s.complete() {
		fmt.Fprintf(log, "building the runtime-tools validation suite into %s\n", cache)
		start := time.Now()
		if err := s.build(ctx, repo, cache); err != nil {
			return nil, err
		}
		if err := os.WriteFile(stamp, []byte(key), 0o644); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "built the suite in %.1fs\n", time.Since(start).Seconds())
	}
	entries, err := os.ReadDir(s.binDir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			s.programs = append(s.programs, e.Name())
		}
	}
	sort.Strings(s.programs)
	if len(s.programs) == 0 {
		return nil, fmt.Errorf("no validation programs in %s", s.binDir)
	}
	return s, nil
}

func (s *suite) complete() bool {
	for _, p := range []string{s.binDir, s.runtimetest, s.rootfs} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// suiteKey identifies everything the build depends on: the module
// versions of every package linked in (from skiff's go.mod), the Go
// toolchain, busybox, and the cache format.
func suiteKey(ctx context.Context, repo string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{with .Module}}{{.Path}} {{.Version}}{{end}}", validationPk, runtimetest)
	cmd.Dir = repo
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list the suite (is %s@… in go.mod and go.sum?): %w: %s", suiteModule, err, strings.TrimSpace(stderr.String()))
	}
	mods := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			mods[l] = true
		}
	}
	var lines []string
	for m := range mods {
		lines = append(lines, m)
	}
	sort.Strings(lines)
	gover, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		return "", fmt.Errorf("read %s (install busybox-static): %w", busyboxPath, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "format %s\ngo %s\n%s\n", cacheFormat, strings.TrimSpace(string(gover)), strings.Join(lines, "\n"))
	h.Write(bb)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *suite) build(ctx context.Context, repo, cache string) error {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	tmpBin := s.binDir + ".new"
	if err := os.RemoveAll(tmpBin); err != nil {
		return err
	}
	if err := os.Mkdir(tmpBin, 0o755); err != nil {
		return err
	}
	if err := goBuild(ctx, repo, nil, "-o", tmpBin+"/", validationPk); err != nil {
		return err
	}
	// runtimetest runs inside a busybox rootfs with no libc.
	tmpRT := s.runtimetest + ".new"
	if err := goBuild(ctx, repo, []string{"CGO_ENABLED=0"}, "-tags", "netgo osusergo", "-o", tmpRT, runtimetest); err != nil {
		return err
	}
	tmpRootfs := s.rootfs + ".new"
	if err := writeRootfs(tmpRootfs); err != nil {
		return err
	}
	if err := os.RemoveAll(s.binDir); err != nil {
		return err
	}
	for _, mv := range [][2]string{{tmpBin, s.binDir}, {tmpRT, s.runtimetest}, {tmpRootfs, s.rootfs}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			return err
		}
	}
	return nil
}

func goBuild(ctx context.Context, repo string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// writeRootfs makes the suite's rootfs tarball from the same recipe as
// the integration tests' bundle (`make bundle`): a static busybox at
// /bin/busybox, a symlink to it for every applet at the path
// `busybox --list-full` gives, the same /etc/passwd and /etc/group, and
// the same directories. The suite untars it straight into the bundle,
// whose root.path is ".".
func writeRootfs(dst string) error {
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		return fmt.Errorf("read %s (install busybox-static): %w", busyboxPath, err)
	}
	if err := checkStatic(busyboxPath); err != nil {
		return err
	}
	list, err := exec.Command(busyboxPath, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("%s --list-full: %w", busyboxPath, err)
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	mtime := time.Unix(0, 0)
	dirs := map[string]bool{}
	dir := func(name string, mode int64) error {
		if dirs[name] {
			return nil
		}
		dirs[name] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./" + name, Mode: mode, ModTime: mtime})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "./" + name, Mode: mode, Size: int64(len(data)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []struct {
		name string
		mode int64
	}{
		{"", 0o755}, {"bin/", 0o755}, {"sbin/", 0o755}, {"usr/", 0o755}, {"usr/bin/", 0o755},
		{"usr/sbin/", 0o755}, {"proc/", 0o755}, {"sys/", 0o755}, {"dev/", 0o755},
		{"tmp/", 0o1777}, {"etc/", 0o755}, {"root/", 0o755}, {"var/", 0o755},
	} {
		if err := dir(d.name, d.mode); err != nil {
			return err
		}
	}
	if err := file("bin/busybox", 0o755, bb); err != nil {
		return err
	}
	for _, applet := range strings.Fields(string(list)) {
		applet = strings.TrimPrefix(applet, "/")
		if applet == "bin/busybox" || strings.Contains(applet, "..") {
			continue
		}
		parent := ""
		for _, part := range strings.Split(filepath.Dir(applet), "/") {
			parent += part + "/"
			if err := dir(parent, 0o755); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "./" + applet, Linkname: "/bin/busybox", Mode: 0o777, ModTime: mtime}); err != nil {
			return err
		}
	}
	if err := file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")); err != nil {
		return err
	}
	if err := file("etc/group", 0o644, []byte("root:x:0:\nnobody:x:65534:\n")); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Close()
}

// checkStatic refuses a dynamically linked busybox (Debian's "busybox"
// package instead of "busybox-static"): it would not run in the rootfs.
func checkStatic(path string) error {
	ef, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; install busybox-static", path)
		}
	}
	return nil
}
