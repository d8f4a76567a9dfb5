package seccomp

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// withCache points the cache at a fresh private directory for one test.
func withCache(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache", "seccomp")
	SetCacheDir(dir)
	t.Cleanup(func() { SetCacheDir("") })
	return dir
}

func cachedFile(t *testing.T, dir string, s *specs.LinuxSeccomp) string {
	t.Helper()
	key, err := cacheKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, cacheFileName(key))
}

func TestCacheHitIsIdentical(t *testing.T) {
	dir := withCache(t)
	s := loadDockerProfile(t)
	first, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	file := cachedFile(t, dir, s)
	st, err := os.Stat(file)
	if err != nil {
		t.Fatalf("nothing cached: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v", st.Mode())
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v", st.Mode())
	}
	second, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Filter, second.Filter) || first.Flags != second.Flags || first.Listener != second.Listener {
		t.Fatal("cache hit differs from the compiled program")
	}

	// Listener settings change per container, not the program: same key.
	n := *s
	n.ListenerPath, n.ListenerMetadata = "/run/agent.sock", "x"
	if cachedFile(t, dir, &n) != file {
		t.Error("listenerPath changes the cache key")
	}
	// Anything else changes it.
	n = *s
	n.DefaultErrnoRet = uintp(2)
	if cachedFile(t, dir, &n) == file {
		t.Error("defaultErrnoRet does not change the cache key")
	}
}

// plant replaces the cached program for s by a recognisable one that is
// otherwise valid, so a test can tell a hit from a recompile.
func plant(t *testing.T, dir string, s *specs.LinuxSeccomp, mode os.FileMode) *Program {
	t.Helper()
	key, _ := cacheKey(s)
	fake := &Program{Filter: []byte{6, 0, 0, 0, 0, 0, 0xff, 0x7f}, Flags: 2}
	file := filepath.Join(dir, cacheFileName(key))
	if err := os.WriteFile(file, encodeCacheFile(key, fake), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, mode); err != nil {
		t.Fatal(err)
	}
	return fake
}

func TestCacheIsReadBack(t *testing.T) {
	dir := withCache(t)
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}}
	if _, err := Compile(s); err != nil {
		t.Fatal(err)
	}
	fake := plant(t, dir, s, 0o600)
	got, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Filter, fake.Filter) {
		t.Fatal("a valid cache file was not used")
	}
}

func TestCacheDistrust(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}}
	check := func(t *testing.T, dir string) {
		t.Helper()
		got, err := Compile(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Filter) == 8 {
			t.Fatal("an untrustworthy cache file was used")
		}
	}
	t.Run("file mode", func(t *testing.T) {
		dir := withCache(t)
		Compile(s)
		plant(t, dir, s, 0o644)
		check(t, dir)
	})
	t.Run("corrupt", func(t *testing.T) {
		dir := withCache(t)
		Compile(s)
		plant(t, dir, s, 0o600)
		file := cachedFile(t, dir, s)
		b, _ := os.ReadFile(file)
		b[len(b)-40] ^= 1
		os.WriteFile(file, b, 0o600)
		check(t, dir)
		// The recompiled program replaced the bad file.
		if b2, _ := os.ReadFile(file); bytes.Equal(b, b2) {
			t.Error("corrupt file not replaced")
		}
	})
	t.Run("other key", func(t *testing.T) {
		dir := withCache(t)
		Compile(s)
		other := &specs.LinuxSeccomp{DefaultAction: specs.ActLog}
		ok, _ := cacheKey(other)
		fake := &Program{Filter: []byte{6, 0, 0, 0, 0, 0, 0xff, 0x7f}}
		os.WriteFile(cachedFile(t, dir, s), encodeCacheFile(ok, fake), 0o600)
		check(t, dir)
	})
	t.Run("symlink", func(t *testing.T) {
		dir := withCache(t)
		Compile(s)
		target := filepath.Join(t.TempDir(), "elsewhere")
		plant(t, dir, s, 0o600)
		file := cachedFile(t, dir, s)
		os.Rename(file, target)
		os.Symlink(target, file)
		check(t, dir)
	})
	t.Run("dir mode", func(t *testing.T) {
		dir := withCache(t)
		Compile(s)
		plant(t, dir, s, 0o600)
		os.Chmod(dir, 0o755)
		check(t, dir)
	})
	t.Run("symlinked dir", func(t *testing.T) {
		dir := withCache(t)
		Compile(s)
		plant(t, dir, s, 0o600)
		real := dir + ".real"
		os.Rename(dir, real)
		os.Symlink(real, dir)
		check(t, dir)
	})
	t.Run("hard link", func(t *testing.T) {
		dir := withCache(t)
		Compile(s)
		plant(t, dir, s, 0o600)
		os.Link(cachedFile(t, dir, s), filepath.Join(t.TempDir(), "link"))
		check(t, dir)
	})
}

func TestCacheDisabledOrUnusable(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}}
	SetCacheDir("relative/dir")
	defer SetCacheDir("")
	if _, err := Compile(s); err != nil {
		t.Fatalf("a bad cache dir must not fail Compile: %v", err)
	}
}

// TestDockerProfileTimings measures what the cache saves (run with -v).
func TestDockerProfileTimings(t *testing.T) {
	s := loadDockerProfile(t)
	const n = 20
	SetCacheDir("")
	start := time.Now()
	var cold *Program
	for range n {
		var err error
		if cold, err = Compile(s); err != nil {
			t.Fatal(err)
		}
	}
	compile := time.Since(start) / n

	withCache(t)
	if _, err := Compile(s); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for range n {
		hit, err := Compile(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(hit.Filter, cold.Filter) {
			t.Fatal("cache hit differs")
		}
	}
	cached := time.Since(start) / n
	t.Logf("docker default profile (%d syscall names, %d BPF instructions): compile %v, cache hit %v",
		countNames(s), cold.Len(), compile, cached)
}

func countNames(s *specs.LinuxSeccomp) int {
	n := 0
	for _, r := range s.Syscalls {
		n += len(r.Names)
	}
	return n
}

func BenchmarkCompileDocker(b *testing.B) {
	s := loadDockerProfile(b)
	SetCacheDir("")
	for b.Loop() {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileDockerCached(b *testing.B) {
	s := loadDockerProfile(b)
	SetCacheDir(filepath.Join(b.TempDir(), "seccomp"))
	defer SetCacheDir("")
	if _, err := Compile(s); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCacheIsBounded(t *testing.T) {
	dir := withCache(t)
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}}
	if _, err := Compile(s); err != nil {
		t.Fatal(err)
	}
	for i := range cacheMaxEntries + 10 {
		os.WriteFile(filepath.Join(dir, strconv.Itoa(i)+".bpf"), nil, 0o600)
	}
	s.Syscalls[0].Names = []string{"getcwd", "chdir"} // a miss
	if _, err := Compile(s); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) > cacheMaxEntries {
		t.Fatalf("%d entries left", len(entries))
	}
	if _, err := os.Stat(cachedFile(t, dir, s)); err != nil {
		t.Fatalf("the new program was not cached: %v", err)
	}
}
