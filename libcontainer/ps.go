package libcontainer

import (
	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// Processes lists the host PIDs of every process in the container's
// cgroup, its sub-cgroups included. A container whose cgroup is gone
// has none; that is not an error (runc's `ps` prints just the header).
func Processes(st *state.State) ([]int, error) {
	return cgroups.Load(st.CgroupPaths).Pids()
}
