package cgroups

import (
	"path/filepath"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/systemd"
	"golang.org/x/sys/unix"
)

// systemdScope tells whether a container's cgroup (given by the paths
// Paths returned) is a scope unit the systemd driver made, and returns
// the prefix and name the driver made it from
// ("<prefix>-<name>.scope"). It is when systemd runs, the hierarchy is
// unified, the directory is named like such a scope, and it carries
// the invocation ID systemd gives each unit's cgroup (the
// trusted.invocation_id xattr): a cgroup the cgroupfs driver made under
// a look-alike name has none.
func systemdScope(paths map[string]string) (prefix, name string, ok bool) {
	dir := paths[""]
	if len(paths) != 1 || dir == "" || !cgroups.IsCgroup2UnifiedMode() || !systemd.IsRunningSystemd() {
		return "", "", false
	}
	unit, isScope := strings.CutSuffix(filepath.Base(dir), ".scope")
	if !isScope {
		return "", "", false
	}
	// Any split will do: the library puts the unit's name back together
	// as prefix + "-" + name + ".scope".
	prefix, name, ok = strings.Cut(unit, "-")
	if !ok || prefix == "" || name == "" {
		return "", "", false
	}
	if _, err := unix.Getxattr(dir, "trusted.invocation_id", nil); err != nil {
		return "", "", false
	}
	return prefix, name, true
}
