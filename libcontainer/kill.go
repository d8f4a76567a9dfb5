package libcontainer

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// ErrNotRunning is runc's error for signalling a stopped container.
var ErrNotRunning = errors.New("container not running")

// openInit returns a pidfd of the container's init if it is still alive.
// The start time is checked after the pidfd is open, so the pidfd
// cannot refer to a later process that reused the PID.
func openInit(st *state.State) (int, error) {
	if st.InitPID <= 0 {
		return -1, ErrNotRunning
	}
	fd, err := unix.PidfdOpen(st.InitPID, 0)
	if err == unix.ESRCH {
		return -1, ErrNotRunning
	}
	if err != nil {
		return -1, fmt.Errorf("pidfd_open %d: %w", st.InitPID, err)
	}
	if !st.InitAlive() {
		unix.Close(fd)
		return -1, ErrNotRunning
	}
	return fd, nil
}

// Kill sends sig to the container's init or, with all, to every process
// in the container's cgroup. Signal 0 only checks that the init exists.
func Kill(root string, st *state.State, sig unix.Signal, all bool) error {
	status := st.Status(root)
	if all {
		cg := cgroups.Load(st.CgroupPaths)
		if len(st.CgroupPaths) > 0 {
			if status == state.Stopped && !cg.Exists() {
				return nil
			}
			return signalAll(cg, sig)
		}
		// Without a cgroup there is no way to find the other processes.
		logs.Warnf("container %s has no cgroup: signalling its init only", st.ID)
	}
	if status == state.Stopped {
		return ErrNotRunning
	}
	fd, err := openInit(st)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		return fmt.Errorf("unable to signal init: %w", err)
	}
	if status == state.Paused && sig == unix.SIGKILL {
		// A frozen v1 cgroup holds SIGKILL until thawed.
		if err := cgroups.Load(st.CgroupPaths).Thaw(); err != nil {
			logs.Warnf("thaw container %s: %v", st.ID, err)
		}
	}
	return nil
}

// signalAll signals every process of a cgroup. SIGKILL on cgroup v2
// goes through cgroup.kill, which the kernel applies to the whole
// subtree at once. Otherwise the cgroup is frozen meanwhile, if it can
// be, so that no process escapes by forking between the listing and the
// signalling.
func signalAll(cg cgroups.Manager, sig unix.Signal) error {
	if sig == unix.SIGKILL {
		err := cg.KillAll()
		if err == nil {
			logs.Debugf("killed every process of the cgroup through cgroup.kill")
			return nil
		}
		if !errors.Is(err, cgroups.ErrNoCgroupKill) {
			logs.Debugf("cgroup.kill: %v; signalling each process instead", err)
		}
	}
	pids, err := cg.Pids()
	if err != nil {
		return fmt.Errorf("list container processes: %w", err)
	}
	if len(pids) == 0 {
		return nil
	}
	wasFrozen := cg.Frozen()
	froze := false
	if !wasFrozen {
		if err := cg.Freeze(); err != nil {
			logs.Debugf("freeze before signalling all: %v", err)
		} else {
			froze = true
			// Forks done before the freeze took effect are listed now.
			if again, err := cg.Pids(); err == nil {
				pids = again
			}
		}
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			logs.Warnf("signal %d to pid %d: %v", int(sig), pid, err)
		}
	}
	if froze || (wasFrozen && sig == unix.SIGKILL) {
		if err := cg.Thaw(); err != nil {
			logs.Warnf("thaw after signalling all: %v", err)
		}
	}
	return nil
}
