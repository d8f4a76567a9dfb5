package sysfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 2047, 2048, 2049, 100000} {
		want := bytes.Repeat([]byte("x"), size)
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("size %d: got %d bytes, %v", size, len(got), err)
		}
	}
	// A /proc file reports size 0 but has content.
	if got, err := ReadFile("/proc/self/stat"); err != nil || len(got) == 0 {
		t.Errorf("/proc/self/stat: %q %v", got, err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

// Use lends each read its contents, whatever an earlier read left in the
// buffer it reuses, and passes on fn's error.
func TestUse(t *testing.T) {
	dir := t.TempDir()
	long := bytes.Repeat([]byte("y"), 10000)
	for _, want := range [][]byte{long, []byte("short"), {}, long[:4097], []byte("z")} {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
		var got []byte
		if err := Use(p, func(data []byte) error { got = bytes.Clone(data); return nil }); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%d bytes: got %d, %v", len(want), len(got), err)
		}
	}
	errFn := errors.New("from fn")
	if err := Use("/proc/self/stat", func([]byte) error { return errFn }); err != errFn {
		t.Errorf("fn's error: got %v", err)
	}
	if err := Use(filepath.Join(dir, "missing"), func([]byte) error { return nil }); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}
