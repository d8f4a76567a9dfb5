package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// procRoot is a handle to a procfs skiff verified itself
// (PROC_SUPER_MAGIC, root inode): a private instance where the kernel
// lets skiff make one, the host's /proc otherwise. Every write to
// another process's /proc files goes through it.
var procRoot = sync.OnceValues(procfs.OpenProcRoot)

// writeProcFile writes data to /proc/PID/NAME in one write(2). The file
// is looked up without following any symlink or crossing into another
// mount: with openat2(RESOLVE_BENEATH|RESOLVE_NO_XDEV|
// RESOLVE_NO_MAGICLINKS) where the kernel has it, and where it has not
// (before 5.6, or a seccomp profile that hides it) by securejoin's
// component-by-component walk that checks each step is on the same
// procfs mount. The O_PATH handle is then reopened for writing through
// the same kind of handle's /proc/thread-self/fd, and what was opened
// is checked to be procfs before anything is written.
func writeProcFile(pid int, name, data string) error {
	proc, err := procRoot()
	if err != nil {
		return fmt.Errorf("open /proc: %w", err)
	}
	path := fmt.Sprintf("/proc/%d/%s", pid, name)
	handle, err := proc.OpenPid(pid, name)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer handle.Close()
	f, err := pathrs.Reopen(handle, unix.O_WRONLY|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &sfs); err != nil || sfs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("open %s: not a procfs file", path)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func formatIDMap(maps []configs.IDMap) string {
	var b strings.Builder
	for _, m := range maps {
		fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
	}
	return b.String()
}

// writeIDMaps maps the new user namespace of pid.
func writeIDMaps(pid int, cfg *configs.Config) error {
	if cfg.Rootless {
		if err := writeProcFile(pid, "setgroups", "deny"); err != nil {
			return err
		}
	}
	if err := writeProcFile(pid, "uid_map", formatIDMap(cfg.UIDMappings)); err != nil {
		return fmt.Errorf("linux.uidMappings: %w", err)
	}
	if err := writeProcFile(pid, "gid_map", formatIDMap(cfg.GIDMappings)); err != nil {
		return fmt.Errorf("linux.gidMappings: %w", err)
	}
	return nil
}

// writeTimeOffsets sets the clocks of pid's new time namespace.
func writeTimeOffsets(pid int, cfg *configs.Config) error {
	var b strings.Builder
	for _, clock := range []string{"monotonic", "boottime"} {
		if off, ok := cfg.TimeOffsets[clock]; ok {
			fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if err := writeProcFile(pid, "timens_offsets", b.String()); err != nil {
		return fmt.Errorf("linux.timeOffsets: %w", err)
	}
	return nil
}

// openInRoot opens path inside the directory root as if root were "/":
// openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS), or where openat2 is
// missing (ENOSYS; EPERM from a seccomp profile) securejoin's walk of
// the same semantics (which retries EAGAIN itself), whose O_PATH handle
// is then reopened with flags.
func openInRoot(root *os.File, path string, flags int) (*os.File, error) {
	how := &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(int(root.Fd()), path, how)
	// EAGAIN: a rename or mount anywhere raced a ".." step; try again
	// (a bounded number of times, as the init does).
	for tries := 0; errors.Is(err, unix.EAGAIN) && tries < 128; tries++ {
		fd, err = unix.Openat2(int(root.Fd()), path, how)
	}
	if err == nil {
		return os.NewFile(uintptr(fd), path), nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
		return nil, err
	}
	handle, err := pathrs.OpenatInRoot(root, path)
	if err != nil {
		return nil, err
	}
	defer handle.Close()
	return pathrs.Reopen(handle, flags|unix.O_CLOEXEC)
}
