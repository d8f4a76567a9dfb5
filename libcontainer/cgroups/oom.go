package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// NotifyOOM returns a channel that receives a value for each OOM event
// in the cgroup. The library has no notifier, so this is done here: on
// v1 an eventfd registered on memory.oom_control, on v2 an inotify
// watch on memory.events. The channel is closed when the cgroup is
// removed (v1) or has no process left (v2), as runc's is.
func (m *manager) NotifyOOM() (<-chan struct{}, error) {
	if m.err != nil {
		return nil, m.err
	}
	paths := m.lib.GetPaths()
	if dir := paths["memory"]; dir != "" {
		return notifyOOMv1(dir)
	}
	if dir := v2MemoryDir(paths); dir != "" {
		return notifyOOMv2(dir)
	}
	return nil, errors.New("container has no memory cgroup to watch for OOM events")
}

func notifyOOMv1(dir string) (<-chan struct{}, error) {
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, fmt.Errorf("watch for OOM events: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("watch for OOM events: eventfd: %w", err)
	}
	reg := strconv.Itoa(efd) + " " + strconv.Itoa(int(ctl.Fd()))
	if err := cgroups.WriteFile(dir, "cgroup.event_control", reg); err != nil {
		unix.Close(efd)
		ctl.Close()
		return nil, fmt.Errorf("watch for OOM events: %w", err)
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer unix.Close(efd)
		// ctl must stay open for as long as the registration is used.
		defer ctl.Close()
		var buf [8]byte
		for {
			if _, err := unix.Read(efd, buf[:]); err != nil {
				if err == unix.EINTR {
					continue
				}
				return
			}
			// The kernel signals the eventfd once more when the cgroup
			// is removed: that one is the end, not an OOM.
			if _, err := os.Lstat(filepath.Join(dir, "cgroup.event_control")); err != nil {
				return
			}
			ch <- struct{}{}
		}
	}()
	return ch, nil
}

func notifyOOMv2(dir string) (<-chan struct{}, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("watch for OOM events: inotify: %w", err)
	}
	for _, f := range []string{"memory.events", "cgroup.events"} {
		if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, f), unix.IN_MODIFY); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("watch for OOM events: %s: %w", f, err)
		}
	}
	// Only kills from now on are news.
	last, err := counter(dir, "memory.events", "oom_kill")
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch for OOM events: %w", err)
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer unix.Close(fd)
		buf := make([]byte, 4096)
		for {
			n, err := unix.Read(fd, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n < unix.SizeofInotifyEvent {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				if ev.Mask&unix.IN_IGNORED != 0 {
					return // a watched file went away with the cgroup
				}
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
			kills, err := counter(dir, "memory.events", "oom_kill")
			if err != nil {
				return
			}
			if kills > last {
				last = kills
				ch <- struct{}{}
			}
			if populated, err := counter(dir, "cgroup.events", "populated"); err != nil || populated == 0 {
				return
			}
		}
	}()
	return ch, nil
}

// counter reads one key of a flat keyed cgroup file.
func counter(dir, file, key string) (uint64, error) {
	kv, err := readKeyValues(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	v, ok := kv[key]
	if !ok {
		return 0, fmt.Errorf("%s: no %q", filepath.Join(dir, file), key)
	}
	return v, nil
}
