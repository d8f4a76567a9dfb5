package tests

// linux.mountLabel is SELinux's: runc adds it to the data of the
// filesystems it mounts (context="...") where the host runs SELinux,
// and ignores it elsewhere. On a host without SELinux a config that
// sets it must start as any other, and no mount may carry a context=.

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/selinux/go-selinux"
)

func TestMountLabelWithoutSELinux(t *testing.T) {
	requireSetup(t)
	if selinux.GetEnabled() {
		t.Skip("the host runs SELinux: the label is applied there")
	}
	c := newCtr(t, specChain(sleeper, func(s *specs.Spec) {
		s.Linux.MountLabel = "system_u:object_r:container_file_t:s0:c1,c2"
	}))
	c.create()
	mounts := containerMounts(t, c.mustState().Pid)
	kinds := map[string]bool{}
	for _, m := range mounts {
		kinds[m.FSType] = true
		for _, o := range append(append([]string{}, m.Options...), m.SuperOptions...) {
			if strings.HasPrefix(o, "context=") || strings.Contains(o, "container_file_t") {
				t.Errorf("%s (%s) has %q on a host without SELinux", m.MountPoint, m.FSType, o)
			}
		}
	}
	for _, fs := range []string{"tmpfs", "devpts", "mqueue", "proc", "sysfs"} {
		if !kinds[fs] {
			t.Errorf("no %s mount in the container: %v", fs, kinds)
		}
	}
}
