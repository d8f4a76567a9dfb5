package libcontainer

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestProcessEnv(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	got := processEnv([]string{"A=1", "PATH=/bin", "A=2", "B=x"}, root, 1000)
	want := []string{"PATH=/bin", "A=2", "B=x", "HOME=/home/alice"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := processEnv([]string{"HOME=/x"}, root, 0); !slices.Equal(got, []string{"HOME=/x"}) {
		t.Errorf("an explicit HOME was changed: %q", got)
	}
	if got := processEnv(nil, root, 4242); !slices.Equal(got, []string{"HOME=/"}) {
		t.Errorf("unknown user: %q", got)
	}
	// /etc/passwd is read inside the root: a symlink out of it is not followed out.
	evil := t.TempDir()
	os.WriteFile(filepath.Join(evil, "passwd"), []byte("root:x:0:0::/evil:/bin/sh\n"), 0o644)
	os.Remove(filepath.Join(root, "etc/passwd"))
	os.Symlink(filepath.Join(evil, "passwd"), filepath.Join(root, "etc/passwd"))
	if got := processEnv(nil, root, 0); !slices.Equal(got, []string{"HOME=/"}) {
		t.Errorf("passwd read through a symlink out of the root: %q", got)
	}
}
