package libcontainer

import (
	"errors"
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/signals"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// killTimeout bounds the wait for a SIGKILLed init, which only outlives
// it when stuck in the kernel (uninterruptible I/O); runc gives up after
// the same time.
const killTimeout = 10 * time.Second

// Destroy removes a container: it kills what still runs of it, removes
// its cgroup and its state directory. A created container is killed
// without force (it never ran the user's process); a running or paused
// one only with force. With force, or when the container shares a PID
// namespace (so its processes do not die with its init), every process
// left in its cgroup is killed as well.
//
// The caller holds the container's lock (state.Lock).
func Destroy(root string, st *state.State, force bool) error {
	tr := newTrace("delete " + st.ID)
	defer tr.done()
	status := st.Status(root)
	if !force && status != state.Stopped && status != state.Created {
		return fmt.Errorf("cannot delete container %s that is not stopped: %s", st.ID, status)
	}
	cg := cgroups.Load(st.CgroupPaths)
	if status != state.Stopped {
		if err := killInit(st, cg); err != nil {
			return err
		}
	}
	ownPid := st.OwnPidNS
	if st.Config != nil {
		ownPid = ownPidNamespace(st.Config)
	}
	if force || !ownPid {
		if err := signalAll(cg, unix.SIGKILL); err != nil {
			logs.Warnf("kill processes of container %s: %v", st.ID, err)
		}
	}
	tr.mark("processes killed")
	// As runc does, the state goes even if the cgroup cannot be removed:
	// the container is gone either way, and its cgroup error is reported.
	cgErr := cg.Destroy()
	if cgErr != nil {
		cgErr = fmt.Errorf("remove cgroup of container %s: %w", st.ID, cgErr)
	}
	tr.mark("cgroup removed")
	if err := errors.Join(cgErr, state.Remove(root, st.ID)); err != nil {
		return err
	}
	tr.mark("state removed")
	if hooks := configHooks(st); hooks != nil {
		// runtime-spec: after the delete, and a failure is a warning.
		RunHooksWarn("poststop", hooks.Poststop, st.OCIState(state.Stopped))
	}
	return nil
}

// killInit SIGKILLs the container's init and waits until it is dead.
func killInit(st *state.State, cg cgroups.Manager) error {
	fd, err := openInit(st)
	if err == ErrNotRunning {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && err != unix.ESRCH {
		return fmt.Errorf("kill init of container %s: %w", st.ID, err)
	}
	if cg.Frozen() {
		// SIGKILL waits for the thaw in a v1 freezer cgroup.
		if err := cg.Thaw(); err != nil {
			return fmt.Errorf("thaw container %s to kill it: %w", st.ID, err)
		}
	}
	if err := signals.WaitFD(fd, killTimeout); err != nil {
		if err == signals.ErrTimeout {
			return fmt.Errorf("container %s: init %d still running %v after SIGKILL", st.ID, st.InitPID, killTimeout)
		}
		return err
	}
	return nil
}

// ownPidNamespace reports whether the container has a new PID namespace,
// in which the kernel kills every process when the init dies.
func ownPidNamespace(cfg *configs.Config) bool {
	return cfg != nil && cfg.HasNamespace(configs.NEWPID) && cfg.NamespacePath(configs.NEWPID) == ""
}

// configHooks is the container's hooks; nil when it has none, including
// when its config was not loaded because it has none (state.LoadLite).
func configHooks(st *state.State) *specs.Hooks {
	if st.Config == nil {
		return nil
	}
	return st.Config.Hooks
}
