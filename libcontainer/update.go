package libcontainer

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// UpdateOptions is what `skiff update` asks to change.
type UpdateOptions struct {
	// Resources holds only the values to change; the rest stay.
	Resources *specs.LinuxResources
	// Intel RDT schemata (--l3-cache-schema, --mem-bw-schema).
	L3CacheSchema string
	MemBwSchema   string
}

// Update changes a live container's cgroup limits and records them in
// its state, so that later updates merge with them. Every requested
// value must have somewhere to go on this host: one that cannot be
// applied is an error naming it (a *cgroups.UnsupportedError for
// resources), never silently dropped. If the kernel refuses the new
// limits, the old ones are put back.
func Update(root, id string, opts UpdateOptions) error {
	st, unlock, err := state.LockAndLoad(root, id)
	if err != nil {
		return err
	}
	defer unlock()
	// runc's order: the RDT checks come before the status check.
	if err := checkRDT(opts); err != nil {
		return err
	}
	if st.Status(root) == state.Stopped {
		return ErrNotRunning
	}
	req := opts.Resources
	if req != nil && len(req.Devices) > 0 {
		return &cgroups.UnsupportedError{Field: "devices", Reason: "update cannot change device rules"}
	}
	if err := cgroups.CheckResources(st.CgroupPaths, req); err != nil {
		return err
	}
	var old *specs.LinuxResources
	if st.Config != nil {
		old = st.Config.Resources
	}
	merged, err := cgroups.MergeResources(old, req)
	if err != nil {
		return err
	}
	cg := cgroups.Load(st.CgroupPaths)
	if err := cg.Update(merged); err != nil {
		// Some files may already hold new values: put the old ones back.
		if rerr := cg.Update(old); rerr != nil {
			logs.Warnf("Setting back cgroup configs failed due to error: %v, your state.json and actual configs might be inconsistent.", rerr)
		}
		return err
	}
	if st.Config == nil {
		return errors.New("container state has no config to record the new limits in")
	}
	st.Config.Resources = merged
	return state.Save(root, st)
}

// checkRDT fails for Intel RDT schemata: skiff does not manage resctrl
// groups. Where RDT is missing altogether the error is runc's.
func checkRDT(opts UpdateOptions) error {
	if opts.L3CacheSchema == "" && opts.MemBwSchema == "" {
		return nil
	}
	resctrl := resctrlMount()
	if opts.L3CacheSchema != "" {
		if !rdtFeature(resctrl, "L3") {
			return errors.New("Intel RDT/CAT: l3 cache schema is not enabled")
		}
		return errors.New("--l3-cache-schema: Intel RDT is not supported by skiff")
	}
	if !rdtFeature(resctrl, "MB") {
		return errors.New("Intel RDT/MBA: memory bandwidth schema is not enabled")
	}
	return errors.New("--mem-bw-schema: Intel RDT is not supported by skiff")
}

// resctrlMount is where the resctrl filesystem is mounted, or "".
func resctrlMount() string {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("resctrl"))
	if err != nil || len(mounts) == 0 {
		return ""
	}
	return mounts[0].Mountpoint
}

// rdtFeature reports whether resctrl offers a resource ("L3": cache
// allocation, "MB": memory bandwidth allocation).
func rdtFeature(resctrl, kind string) bool {
	if resctrl == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(resctrl, "info", kind))
	return err == nil
}
