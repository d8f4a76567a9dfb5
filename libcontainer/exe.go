package libcontainer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// sealedExe returns the path of an immutable copy of the running skiff
// binary, made once per binary and reused by every container. The init
// runs from it, so a container that reaches /proc/<init>/exe cannot
// write to skiff (CVE-2019-5736): even root gets EPERM from an immutable
// inode, and the container has no CAP_LINUX_IMMUTABLE to clear the flag
// unless it was given everything. No per-container copy or mount.
var sealedExe = sync.OnceValues(func() (string, error) {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return "", fmt.Errorf("open own binary: %w", err)
	}
	defer self.Close()
	var sb unix.Stat_t
	if err := unix.Fstat(int(self.Fd()), &sb); err != nil {
		return "", fmt.Errorf("stat own binary: %w", err)
	}
	dir := exeDir()
	name := filepath.Join(dir, fmt.Sprintf("skiff-%x-%x-%x-%x.%d", sb.Dev, sb.Ino, sb.Size, sb.Mtim.Sec, sb.Mtim.Nsec))
	if ok, err := ensureImmutable(name, sb.Size); ok || err != nil {
		return name, err
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return "", fmt.Errorf("sealed binary: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".skiff-*")
	if err != nil {
		return "", fmt.Errorf("sealed binary: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, self); err != nil {
		tmp.Close()
		return "", fmt.Errorf("sealed binary: copy: %w", err)
	}
	if err := tmp.Chmod(0o555); err != nil {
		tmp.Close()
		return "", fmt.Errorf("sealed binary: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("sealed binary: %w", err)
	}
	// An immutable inode cannot be renamed: rename first, then seal. A
	// concurrent skiff that finds it unsealed seals it itself.
	if err := os.Rename(tmp.Name(), name); err != nil {
		return "", fmt.Errorf("sealed binary: %w", err)
	}
	if _, err := ensureImmutable(name, sb.Size); err != nil {
		return "", err
	}
	pruneOldCopies(dir, name)
	return name, nil
})

// pruneOldCopies removes the copies of earlier skiff binaries. A copy
// younger than a minute is kept: another skiff may be about to run it.
func pruneOldCopies(dir, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		info, err := e.Info()
		if path == keep || err != nil || !info.Mode().IsRegular() || time.Since(info.ModTime()) < time.Minute {
			continue
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS); err == nil && flags&fsImmutableFl != 0 {
			_ = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags&^fsImmutableFl))
		}
		unix.Close(fd)
		_ = os.Remove(path)
	}
}

// exeDir is outside any --root, so every state root shares one copy.
func exeDir() string {
	if os.Geteuid() != 0 {
		if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
			return filepath.Join(d, "skiff-exe")
		}
	}
	return "/run/skiff-exe"
}

// ensureImmutable reports whether path is a complete copy, sealing it if
// it is not sealed yet.
func ensureImmutable(path string, size int64) (bool, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sealed binary: %w", err)
	}
	defer unix.Close(fd)
	var sb unix.Stat_t
	if err := unix.Fstat(fd, &sb); err != nil || sb.Size != size || sb.Uid != uint32(os.Geteuid()) {
		return false, fmt.Errorf("sealed binary %s is not skiff's copy", path)
	}
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return false, fmt.Errorf("sealed binary: get flags: %w", err)
	}
	if flags&fsImmutableFl != 0 {
		return true, nil
	}
	if err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|fsImmutableFl)); err != nil {
		return false, fmt.Errorf("sealed binary: set immutable: %w", err)
	}
	return true, nil
}

// The binary of the next init, opened in the background by
// PrepareInitExe: finding and opening the sealed copy (a few stats and
// a mount clone, 0.05-0.3 ms) then overlaps reading the config.
var preparedExe struct {
	sync.Mutex
	result chan initExe
}

type initExe struct {
	f   *os.File
	err error
}

// PrepareInitExe starts opening the binary the next init runs from:
// create and exec call it before they read their config.
func PrepareInitExe() {
	preparedExe.Lock()
	defer preparedExe.Unlock()
	if preparedExe.result != nil {
		return
	}
	ch := make(chan initExe, 1)
	preparedExe.result = ch
	go func() {
		f, err := openInitExe()
		ch <- initExe{f, err}
	}()
}

// takeInitExe returns the binary PrepareInitExe opened, or opens one.
func takeInitExe() (*os.File, error) {
	preparedExe.Lock()
	ch := preparedExe.result
	preparedExe.result = nil
	preparedExe.Unlock()
	if ch != nil {
		r := <-ch
		return r.f, r.err
	}
	return openInitExe()
}

func openInitExe() (*os.File, error) {
	exe, err := sealedExe()
	if err != nil {
		return nil, err
	}
	return openSealedExe(exe)
}

// openSealedExe opens the shared copy through a detached, read-only
// bind mount of its directory, made for this one exec and in no mount
// table. The init's /proc/PID/exe then leads to that mount: opening it
// for writing, or clearing the immutable flag even with
// CAP_LINUX_IMMUTABLE, fails with EROFS, whoever in the container tries.
func openSealedExe(path string) (*os.File, error) {
	tree, err := unix.OpenTree(unix.AT_FDCWD, filepath.Dir(path), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("sealed binary: open_tree: %w", err)
	}
	defer unix.Close(tree)
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, attr); err != nil {
		return nil, fmt.Errorf("sealed binary: mount_setattr: %w", err)
	}
	fd, err := unix.Openat(tree, filepath.Base(path), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("sealed binary: %w", err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// fsImmutableFl is FS_IMMUTABLE_FL from linux/fs.h.
const fsImmutableFl = 0x00000010
