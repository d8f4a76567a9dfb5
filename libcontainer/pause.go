package libcontainer

import (
	"errors"

	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// ErrNotPaused is runc's error for resuming a container that is not
// paused.
var ErrNotPaused = errors.New("container not paused")

// Pause freezes every process of a created or running container: the
// v1 freezer, or cgroup.freeze on v2 (the library picks). Like runc, a
// created container may be paused too; its init is then frozen while it
// waits for `start`.
func Pause(root, id string) error {
	st, unlock, err := state.LockAndLoad(root, id)
	if err != nil {
		return err
	}
	defer unlock()
	switch st.Status(root) {
	case state.Running, state.Created:
	default:
		return ErrNotRunning
	}
	return cgroups.Load(st.CgroupPaths).Freeze()
}

// Resume thaws a paused container.
func Resume(root, id string) error {
	st, unlock, err := state.LockAndLoad(root, id)
	if err != nil {
		return err
	}
	defer unlock()
	if st.Status(root) != state.Paused {
		return ErrNotPaused
	}
	return cgroups.Load(st.CgroupPaths).Thaw()
}
