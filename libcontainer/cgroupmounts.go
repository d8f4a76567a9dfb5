package libcontainer

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/skiff-runtime/skiff/libcontainer/initplan"
)

const cgroupRoot = "/sys/fs/cgroup"

// cgroupMounts works out what a "cgroup" mount shows the container: on a
// v1 (or hybrid) host one bind per hierarchy the container has a cgroup
// in, with links for co-mounted controllers (cpu -> cpu,cpuacct).
func cgroupMounts(paths map[string]string) ([]initplan.CgroupBind, bool) {
	if len(paths) == 1 && paths[""] != "" {
		return nil, true
	}
	byHierarchy := map[string]string{}
	for ctrl, p := range paths {
		if ctrl == "" {
			continue
		}
		rel, err := filepath.Rel(cgroupRoot, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		hier, _, _ := strings.Cut(rel, "/")
		if hier == "unified" {
			continue
		}
		byHierarchy[hier] = p
	}
	names := make([]string, 0, len(byHierarchy))
	for h := range byHierarchy {
		names = append(names, h)
	}
	sort.Strings(names)
	binds := make([]initplan.CgroupBind, 0, len(names))
	for _, h := range names {
		b := initplan.CgroupBind{Source: byHierarchy[h], Name: h}
		if strings.Contains(h, ",") {
			b.Links = strings.Split(h, ",")
		}
		binds = append(binds, b)
	}
	return binds, false
}
