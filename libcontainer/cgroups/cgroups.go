// Package cgroups places containers in cgroups and tears them down, as a
// thin layer over github.com/opencontainers/cgroups that speaks in
// config.json terms (specs.LinuxResources, linux.cgroupsPath) and in the
// path maps skiff keeps in state.json.
package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/cgroups"
	libmanager "github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/cgroups/systemd"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/cgroups/devicerules"
	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/sysfile"
)

// Manager is a container's cgroup, in every hierarchy it belongs to.
type Manager interface {
	// Apply creates the cgroup if needed and moves pid into it (-1: only
	// create it).
	Apply(pid int) error
	// Set writes resource limits; nil means the ones given to New.
	Set(r *specs.LinuxResources) error
	// Paths maps each controller ("" for the unified hierarchy) to the
	// cgroup's directory, to be kept in state.json for Load.
	Paths() map[string]string
	// Destroy removes the cgroup directories. It waits briefly for
	// processes that were just killed to leave.
	Destroy() error
	// Pids lists every process in the cgroup and its sub-cgroups.
	Pids() ([]int, error)
	Freeze() error
	Thaw() error
	// Frozen reports whether the freezer holds the cgroup frozen.
	Frozen() bool
	// Exists reports whether any of the cgroup's directories exists.
	Exists() bool
	// Update changes the limits of a live container (update.go).
	Update(r *specs.LinuxResources) error
	// Stats reads the cgroup's usage counters (stats.go).
	Stats() (*Stats, error)
	// NotifyOOM watches the cgroup for OOM events (oom.go).
	NotifyOOM() (<-chan struct{}, error)
	// KillAll SIGKILLs every process of the cgroup and its sub-cgroups
	// at once (cgroup v2's cgroup.kill); ErrNoCgroupKill where the
	// kernel or hierarchy has no such file.
	KillAll() error
	// CloneTarget opens the cgroup's directory for clone3's
	// CLONE_INTO_CGROUP, creating the cgroup first if New made the
	// manager; nil where that does not apply (see cgroups.go).
	CloneTarget() (*os.File, error)
	// SelfJoin prepares, on cgroup v1 or hybrid hosts, a cgroup that a
	// single-threaded process joins by itself (see SelfJoin below).
	SelfJoin() (*SelfJoin, error)
}

// ScopePrefix names the systemd scope of a container whose
// linux.cgroupsPath is empty: "skiff-<id>.scope".
const ScopePrefix = "skiff"

// ErrSystemdNotRunning is returned by New for the systemd driver on a
// host booted without systemd.
var ErrSystemdNotRunning = errors.New("systemd cgroup driver requested, but systemd is not running")

// New prepares (without creating anything) the cgroup for container id.
//
// With the cgroupfs driver, cfg.CgroupsPath is a path below the cgroup
// mounts; a relative one (and the default, which is the container ID)
// is taken relative to skiff's own cgroup, as runc does. With the
// systemd driver it is "slice:prefix:name", and empty means a scope
// "skiff-<id>.scope" in systemd's default slice.
func New(id string, cfg *configs.Config, useSystemd, rootless bool) (Manager, error) {
	res, err := ConvertResources(cfg.Resources)
	if err != nil {
		return nil, err
	}
	cg := &cgroups.Cgroup{Resources: res, Systemd: useSystemd, Rootless: rootless}
	switch {
	case useSystemd:
		if !systemd.IsRunningSystemd() {
			return nil, ErrSystemdNotRunning
		}
		if cfg.CgroupsPath == "" {
			cg.ScopePrefix, cg.Name = ScopePrefix, id
			break
		}
		parts := strings.Split(cfg.CgroupsPath, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("linux.cgroupsPath: %q is not of the form \"slice:prefix:name\" the systemd cgroup driver needs", cfg.CgroupsPath)
		}
		cg.Parent, cg.ScopePrefix, cg.Name = parts[0], parts[1], parts[2]
	case cfg.CgroupsPath == "":
		cg.Name = id
	default:
		cg.Path = cfg.CgroupsPath
	}
	var paths map[string]string
	if !useSystemd && !cgroups.IsCgroup2UnifiedMode() {
		if paths, err = v1Paths(cg); err != nil {
			return nil, err
		}
	}
	lib, err := libmanager.NewWithPaths(cg, paths)
	if err != nil {
		return nil, fmt.Errorf("cgroup manager: %w", err)
	}
	return &manager{lib: lib, res: res, fresh: true, systemd: useSystemd, rootless: rootless}, nil
}

// Load returns the manager of an existing cgroup from the paths that
// Paths returned when it was made. With no paths, every operation is a
// no-op: there is nothing to act on.
func Load(paths map[string]string) Manager {
	if len(paths) == 0 {
		return noCgroup{}
	}
	m := &manager{res: &cgroups.Resources{}}
	// The cgroupfs managers work from the paths alone, whichever driver
	// made the cgroup; what systemd adds (the scope unit) goes away by
	// itself once the cgroup is empty and removed.
	m.lib, m.err = libmanager.NewWithPaths(&cgroups.Cgroup{Resources: m.res}, maps.Clone(paths))
	return m
}

type manager struct {
	lib cgroups.Manager
	err error // why lib could not be made (Load)
	res *cgroups.Resources
	// fresh: made by New, limits not set yet (the container is empty).
	fresh    bool
	systemd  bool
	rootless bool
}

// SelfJoin is how a process joins a cgroup by itself: it writes "0" to
// the tasks file of each of V1Dirs. Moving the writing thread itself is
// the one move the kernel makes without taking cgroup_threadgroup_rwsem
// for writing; a pid written to cgroup.procs takes it, and that waits
// for an RCU grace period (1-25 ms on this machine, on every create).
// Unified, when not nil, is the hybrid host's cgroup v2 directory, to be
// born into with clone3's CLONE_INTO_CGROUP (no write lock either).
type SelfJoin struct {
	V1Dirs  []string
	Unified *os.File
}

// newSelfJoin splits paths into the v1 directories and the unified one,
// which it opens (making it first when mkdir is set).
func newSelfJoin(paths map[string]string, mkdir bool) (*SelfJoin, error) {
	sj := &SelfJoin{}
	for ctrl, dir := range paths {
		if ctrl != "" {
			sj.V1Dirs = append(sj.V1Dirs, dir)
		}
	}
	slices.Sort(sj.V1Dirs)
	if dir := paths[""]; dir != "" {
		if mkdir {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
		}
		f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open cgroup %s: %w", dir, err)
		}
		sj.Unified = f
	}
	return sj, nil
}

// ExecSelfJoin is SelfJoin for a process exec'd into a running
// container, whose cgroup (or --cgroup's sub-cgroup) paths are given.
// nil where it does not apply: pure cgroup v2, rootless, and a unified
// hierarchy with the pids controller (stage 1, born there, would count
// against pids.max).
func ExecSelfJoin(paths map[string]string, rootless bool) (*SelfJoin, error) {
	if len(paths) == 0 || rootless || cgroups.IsCgroup2UnifiedMode() {
		return nil, nil
	}
	if unified := paths[""]; unified != "" {
		ctrls, err := cgroups.ReadFile(unified, "cgroup.controllers")
		if err != nil || slices.Contains(strings.Fields(ctrls), "pids") {
			return nil, nil
		}
	}
	return newSelfJoin(paths, false)
}

// SelfJoin returns how to join the cgroup by itself; nil where that
// does not apply: pure cgroup v2 (CloneTarget), the systemd driver (it
// needs the pid for its scope), rootless (a cgroup that cannot be made
// is tolerated there), a manager not made by New. It makes only the
// unified directory, to be born in; the caller makes the rest with
// Apply(-1) and sets the limits before the process joins.
func (m *manager) SelfJoin() (*SelfJoin, error) {
	if m.err != nil {
		return nil, m.err
	}
	if m.systemd || m.rootless || !m.fresh || cgroups.IsCgroup2UnifiedMode() {
		return nil, nil
	}
	return newSelfJoin(m.lib.GetPaths(), true)
}

// CloneTarget lets a process be born in the cgroup (clone3 with
// CLONE_INTO_CGROUP): no write to cgroup.procs, and no moment when the
// process runs outside its limits. Only a pure cgroup v2 host with the
// cgroupfs driver qualifies: a v1 hierarchy cannot be joined that way,
// and the systemd driver needs the pid to make its scope.
func (m *manager) CloneTarget() (*os.File, error) {
	if m.err != nil {
		return nil, m.err
	}
	if m.systemd || !cgroups.IsCgroup2UnifiedMode() {
		return nil, nil
	}
	if m.fresh {
		if err := m.lib.Apply(-1); err != nil {
			if errors.Is(err, cgroups.ErrRootless) {
				return nil, nil
			}
			return nil, err
		}
	}
	dir := m.lib.GetPaths()[""]
	if dir == "" {
		return nil, nil
	}
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) && !m.fresh {
		return nil, nil // Apply says what is wrong
	}
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	return f, nil
}

func (m *manager) Apply(pid int) error {
	if m.err != nil {
		return m.err
	}
	err := m.lib.Apply(pid)
	if errors.Is(err, cgroups.ErrRootless) {
		// Without root and without an explicit cgroupsPath, a cgroup
		// that cannot be made is not an error (runc's rule); limits,
		// if any, then fail in Set.
		return nil
	}
	return err
}

func (m *manager) Set(r *specs.LinuxResources) error {
	if m.err != nil {
		return m.err
	}
	res := m.res
	if r != nil {
		var err error
		if res, err = ConvertResources(r); err != nil {
			return err
		}
	}
	devicesDir := m.lib.GetPaths()["devices"]
	ordered := m.fresh && devicesDir != "" && !cgroups.IsCgroup2UnifiedMode()
	libRes := res
	if ordered {
		// A cgroup that existed goes through devicerules' hook, which
		// first reads devices.list to leave alone rules already in
		// place (its processes would otherwise pass through a moment of
		// deny-all); a new, empty one only needs the writes.
		cp := *res
		cp.SkipDevices = true
		libRes = &cp
	}
	if err := m.lib.Set(libRes); err != nil {
		return fmt.Errorf("set cgroup limits: %w", err)
	}
	if ordered {
		if err := devicerules.WriteV1(devicesDir, res.Devices); err != nil {
			return fmt.Errorf("set cgroup limits: %w", err)
		}
	}
	m.res = res
	m.fresh = false
	return nil
}

func (m *manager) Paths() map[string]string {
	if m.err != nil {
		return nil
	}
	return maps.Clone(m.lib.GetPaths())
}

func (m *manager) Destroy() error {
	if m.err != nil {
		return m.err
	}
	// The library retries rmdir on EBUSY with a short backoff: a cgroup
	// stays busy for a moment after its last process was reaped.
	return m.lib.Destroy()
}

func (m *manager) Pids() ([]int, error) {
	if m.err != nil {
		return nil, m.err
	}
	dir := procsDir(m.lib.GetPaths())
	if dir == "" {
		return nil, nil
	}
	pids, err := cgroups.GetAllPids(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return pids, err
}

// procsDir picks the hierarchy to list processes from. Every v1
// hierarchy holds the same processes, but pids and devices are the ones
// a container always has (devices is mandatory).
func procsDir(paths map[string]string) string {
	if len(paths) == 1 {
		for _, p := range paths {
			return p
		}
	}
	for _, c := range []string{"pids", "devices", "memory", "freezer", ""} {
		if p := paths[c]; p != "" {
			return p
		}
	}
	for _, c := range slices.Sorted(maps.Keys(paths)) {
		if p := paths[c]; p != "" {
			return p
		}
	}
	return ""
}

func (m *manager) Freeze() error {
	if m.err != nil {
		return m.err
	}
	return m.lib.Freeze(cgroups.Frozen)
}

func (m *manager) Thaw() error {
	if m.err != nil {
		return m.err
	}
	return m.lib.Freeze(cgroups.Thawed)
}

func (m *manager) Frozen() bool {
	if m.err != nil {
		return false
	}
	return IsFrozen(m.lib.GetPaths())
}

func (m *manager) Exists() bool {
	if m.err != nil {
		return false
	}
	for _, p := range m.lib.GetPaths() {
		if p != "" && cgroups.PathExists(p) {
			return true
		}
	}
	return false
}

// ErrNoCgroupKill: the cgroup cannot be killed at once (cgroup v1, or a
// kernel before 5.14); the caller signals its processes one by one.
var ErrNoCgroupKill = errors.New("no cgroup.kill")

func (m *manager) KillAll() error {
	if m.err != nil {
		return m.err
	}
	dir := m.lib.GetPaths()[""]
	if dir == "" || !cgroups.IsCgroup2UnifiedMode() {
		return ErrNoCgroupKill
	}
	err := cgroups.WriteFile(dir, "cgroup.kill", "1")
	if errors.Is(err, os.ErrNotExist) {
		return ErrNoCgroupKill
	}
	return err
}

// noCgroup is the manager of a container that was given no cgroup (a
// rootless container without cgroup access).
type noCgroup struct{}

func (noCgroup) Apply(int) error                 { return nil }
func (noCgroup) Set(*specs.LinuxResources) error { return errors.New("container has no cgroup") }
func (noCgroup) Paths() map[string]string        { return nil }
func (noCgroup) Destroy() error                  { return nil }
func (noCgroup) Pids() ([]int, error)            { return nil, nil }
func (noCgroup) Freeze() error                   { return errors.New("container has no cgroup to freeze") }
func (noCgroup) Thaw() error                     { return nil }
func (noCgroup) Frozen() bool                    { return false }
func (noCgroup) Exists() bool                    { return false }
func (noCgroup) Update(*specs.LinuxResources) error {
	return errors.New("container has no cgroup to update")
}
func (noCgroup) Stats() (*Stats, error)         { return nil, errors.New("container has no cgroup") }
func (noCgroup) CloneTarget() (*os.File, error) { return nil, nil }
func (noCgroup) SelfJoin() (*SelfJoin, error)   { return nil, nil }
func (noCgroup) KillAll() error                 { return ErrNoCgroupKill }
func (noCgroup) NotifyOOM() (<-chan struct{}, error) {
	return nil, errors.New("container has no cgroup to watch")
}

// IsFrozen reads the freezer state of a cgroup given by its path map:
// the v1 freezer hierarchy if the cgroup has one, else cgroup.freeze of
// the unified hierarchy. It is cheap enough to call for every container
// `skiff list` shows.
func IsFrozen(paths map[string]string) bool {
	fileIs := func(path, want string) (is bool) {
		_ = sysfile.Use(path, func(data []byte) error {
			is = string(bytes.TrimSpace(data)) == want
			return nil
		})
		return is
	}
	if p := paths["freezer"]; p != "" {
		return fileIs(filepath.Join(p, "freezer.state"), string(cgroups.Frozen))
	}
	if p := paths[""]; p != "" {
		return fileIs(filepath.Join(p, "cgroup.freeze"), "1")
	}
	return false
}
