package nsenter

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWalkMatchesOpenat2 holds resolve.c's fallback walk to openat2 on
// this kernel: testdata/walkcheck.c runs every lookup below both ways
// and each must end the same (the same errno, or the same inode opened
// the same way). The tree has links to /, ../../.., absolute and
// relative links, links to files, dangling links, loops and chains of
// 40 and 41 links; /proc has symlinks and magic links.
func TestWalkMatchesOpenat2(t *testing.T) {
	if _, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC}); err != nil {
		t.Skipf("needs openat2 to compare with: %v", err)
	}
	tmp := t.TempDir()
	bin := buildHarness(t, tmp, "walkcheck")

	root := filepath.Join(tmp, "root")
	for _, d := range []string{"a/b/c"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"f", "a/b/g"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"lroot": "/", "lup": "../../..", "labs": "/a/b", "lrel": "a/b", "lfile": "f",
		"labsfile": "/a/b/g", "ldangle": "nope", "lloop": "lloop", "lp1": "lp2", "lp2": "lp1",
		"a/b/lupup": "../../..", "a/b/ldot": "./c/../c", "ltrail": "a/b/", "lslashes": "//a//b//",
		"lmid": "a/../a/b/../../lrel",
	}
	for i := 0; i < 40; i++ {
		links[fmt.Sprintf("k%d", i)] = fmt.Sprintf("k%d", i+1)
	}
	links["k40"] = "a"
	for i := 0; i < 41; i++ {
		links[fmt.Sprintf("m%d", i)] = fmt.Sprintf("m%d", i+1)
	}
	links["m41"] = "a"
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}

	paths := []string{
		"-", ".", "/", "..", "../..", "a", "a/", "a/b/c", "a/b/c/", "a/b/c/../../..", "a/b/c/../../../..",
		"/a/b/../b/c", "f", "f/", "f/.", "a/b/g", "a/b/g/..", "lroot", "lroot/a/b", "lup", "lup/a", "labs/c",
		"lrel/c/..", "lfile", "lfile/", "labsfile", "ldangle", "lloop", "lp1/x", "a/b/lupup/f", "a/b/ldot",
		"ltrail", "ltrail/c", "lslashes/c", "lmid/c", "k1", "k1/b", "k0", "k0/b", "m0", "m0/b", "nope", "a/nope/x",
		"a/b/c/nope", strings.Repeat("a/../", 300) + "f", strings.Repeat("x", 300),
	}
	flags := []int{
		unix.O_PATH, unix.O_PATH | unix.O_NOFOLLOW, unix.O_PATH | unix.O_DIRECTORY, unix.O_RDONLY,
		unix.O_RDONLY | unix.O_DIRECTORY, unix.O_RDONLY | unix.O_NOFOLLOW, unix.O_WRONLY,
	}
	resolves := []uint64{
		unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS,
		unix.RESOLVE_BENEATH,
		unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
		unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_XDEV,
	}
	var in strings.Builder
	var cases []string
	add := func(dir, path string, f int, r uint64) {
		fmt.Fprintf(&in, "%s\t%s\t%#x\t%#x\n", dir, path, f, r)
		cases = append(cases, fmt.Sprintf("%s: %q flags %#o resolve %#x", dir, path, f, r))
	}
	for _, p := range paths {
		for _, f := range flags {
			for _, r := range resolves {
				add(root, p, f, r)
			}
		}
	}
	// procfs, as the init's sysctl and label writes see it: symlinks
	// (self, thread-self, mounts, net) and magic links (root, exe, cwd,
	// fd/N, ns/*), other mounts on it (binfmt_misc, where mounted).
	procPaths := []string{
		"self/status", "thread-self/comm", "mounts", "net/dev", "sys/kernel/ostype", "sys/fs/binfmt_misc",
		"self/root", "self/root/etc", "self/exe", "self/cwd/..", "self/fd/0", "self/ns/net", "self/attr/current",
		"self/../self/status", "../proc",
	}
	for _, p := range procPaths {
		for _, f := range []int{unix.O_PATH, unix.O_RDONLY, unix.O_PATH | unix.O_NOFOLLOW} {
			for _, r := range []uint64{
				unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
				unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
				unix.RESOLVE_BENEATH,
				unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
			} {
				add("/proc", p, f, r)
			}
		}
	}

	lines := runHarness(t, in.String(), len(cases), bin)
	same, ok := 0, 0
	for i, l := range lines {
		a, b, _ := strings.Cut(l, " | ")
		if a != b {
			t.Errorf("%s: openat2 %s, walk %s", cases[i], a, b)
			continue
		}
		same++
		if strings.HasPrefix(a, "ok") {
			ok++
		}
	}
	t.Logf("%d lookups, %d the same both ways (%d opened something)", len(cases), same, ok)
}

// TestMkdirBeneathRoot checks resolve.c's mkdir_p_beneath_root, which
// makes mount points in the container's root: it makes what is missing
// below the deepest directory that exists, never outside the root
// (symlinks to "/" and "../.." resolve to the root), and fails where a
// dangling symlink, a file or a forbidden symlink is in the way.
func TestMkdirBeneathRoot(t *testing.T) {
	tmp := t.TempDir()
	bin := buildHarness(t, tmp, "mkdircheck")
	root := filepath.Join(tmp, "root")
	if err := os.MkdirAll(filepath.Join(root, "a/b/c"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for l, target := range map[string]string{"lroot": "/", "lup": "../../..", "labs": "/a/b", "ldangle": "nope"} {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	// A name that must not appear outside the root.
	escape := fmt.Sprintf("skiff-mkdircheck-%d", os.Getpid())
	noSymlinks := fmt.Sprint(unix.RESOLVE_NO_SYMLINKS)
	cases := []struct {
		path, dir, resolve, want, made string // made: a directory ("/" suffix) or file now in the root
	}{
		{"a/b/c", "1", "0", "ok dir", "a/b/c/"},
		{"/new", "1", "0", "ok dir", "new/"},
		{"a/b/c/d/e/f", "1", "0", "ok dir", "a/b/c/d/e/f/"},
		{"a//b///g/", "1", "0", "ok dir", "a/b/g/"},
		{"x/y/file", "0", "0", "ok file", "x/y/file"},
		{"a/../../h", "1", "0", "ok dir", "h/"},
		{"lroot/" + escape, "1", "0", "ok dir", escape + "/"},
		{"lup/" + escape + "-up/i", "1", "0", "ok dir", escape + "-up/i/"},
		{"labs/j", "1", "0", "ok dir", "a/b/j/"},
		{"ldangle", "1", "0", "err " + fmt.Sprint(int(unix.ENOENT)), ""},
		{"ldangle/k", "1", "0", "err " + fmt.Sprint(int(unix.ENOENT)), ""},
		{"f/l", "1", "0", "err " + fmt.Sprint(int(unix.ENOTDIR)), ""},
		{"labs/m", "1", noSymlinks, "err " + fmt.Sprint(int(unix.ELOOP)), ""},
		{strings.Repeat("n/", 2100), "1", "0", "err " + fmt.Sprint(int(unix.ENAMETOOLONG)), ""},
	}
	var in strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&in, "%s\t%s\t%s\n", c.path, c.dir, c.resolve)
	}
	lines := runHarness(t, in.String(), len(cases), bin, root)
	for i, c := range cases {
		if lines[i] != c.want {
			t.Errorf("%q (dir %s, resolve %s): got %q, want %q", c.path, c.dir, c.resolve, lines[i], c.want)
		}
		if c.made == "" {
			continue
		}
		fi, err := os.Lstat(filepath.Join(root, c.made))
		if err != nil {
			t.Errorf("%q: %v", c.path, err)
		} else if isDir := strings.HasSuffix(c.made, "/"); fi.IsDir() != isDir {
			t.Errorf("%q: %s is %v, want a directory: %v", c.path, c.made, fi.Mode(), isDir)
		}
	}
	for _, p := range []string{"/" + escape, "/" + escape + "-up", filepath.Join(tmp, escape), filepath.Join(root, "nope")} {
		if _, err := os.Lstat(p); err == nil {
			os.RemoveAll(p)
			t.Errorf("%s was made", p)
		}
	}
}

// buildHarness compiles testdata/NAME.c, which includes resolve.c, into
// dir and returns the binary's path.
func buildHarness(t *testing.T, dir, name string) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("needs gcc")
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command(cc, "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-O2",
		"-o", bin, "testdata/"+name+".c").CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, out)
	}
	return bin
}

// runHarness runs a harness with input on its stdin and returns its
// lines of output, which must be one per case.
func runHarness(t *testing.T, input string, cases int, argv ...string) []string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(argv[0]), err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != cases {
		t.Fatalf("%s answered %d of %d", filepath.Base(argv[0]), len(lines), cases)
	}
	return lines
}
