package libcontainer

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// hostProc is an fd of the host's /proc, checked to be procfs, through
// which every write to another process's /proc files goes.
var hostProc = sync.OnceValues(func() (int, error) {
	fd, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /proc: %w", err)
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil || sfs.Type != unix.PROC_SUPER_MAGIC {
		unix.Close(fd)
		return -1, errors.New("/proc is not procfs")
	}
	return fd, nil
})

// writeProcFile writes data to /proc/PID/NAME in one write(2), without
// following any symlink or crossing into another filesystem.
func writeProcFile(pid int, name, data string) error {
	root, err := hostProc()
	if err != nil {
		return err
	}
	path := fmt.Sprintf("%d/%s", pid, name)
	fd, err := unix.Openat2(root, path, &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if errors.Is(err, unix.ENOSYS) {
		// Kernels before 5.6: the pid directory is a plain lookup.
		fd, err = unix.Openat(root, path, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		return fmt.Errorf("open /proc/%s: %w", path, err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(data)); err != nil {
		return fmt.Errorf("write /proc/%s: %w", path, err)
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
