package specconv

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// isIPCSysctl: the kernel.* settings that belong to the IPC namespace.
func isIPCSysctl(s string) bool {
	switch s {
	case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
		"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced":
		return true
	}
	return false
}

// convertSysctl accepts only settings that are namespaced by a namespace
// the container does not share with the host: /proc/sys is global for
// everything else, and writing it would change the host.
//
// Keys are stored in dotted form ("net.ipv4.ip_forward"), with a '/'
// standing for a '.' inside one name, as sysctl(8) does; the /proc/sys
// path is the key with '.' and '/' swapped.
func convertSysctl(l *specs.Linux, c *configs.Config) error {
	if len(l.Sysctl) == 0 {
		return nil
	}
	c.Sysctl = make(map[string]string, len(l.Sysctl))
	for _, key := range sortedKeys(l.Sysctl) {
		f := fmt.Sprintf("linux.sysctl[%q]", key)
		s := sysctlDotted(key)
		if err := checkSysctlName(s); err != nil {
			return fieldErr(f, "%v", err)
		}
		if _, dup := c.Sysctl[s]; dup {
			return fieldErr(f, "%q is given twice", s)
		}
		if err := checkSysctlNamespace(s, c); err != nil {
			return fieldErr(f, "%v", err)
		}
		c.Sysctl[s] = l.Sysctl[key]
	}
	return nil
}

func checkSysctlNamespace(s string, c *configs.Config) error {
	switch {
	case isIPCSysctl(s) || strings.HasPrefix(s, "fs.mqueue."):
		if !c.HasNamespace(configs.NEWIPC) {
			return fmt.Errorf("%q is not allowed in the host's ipc namespace", s)
		}
		return nil
	case strings.HasPrefix(s, "net."):
		if !c.HasNamespace(configs.NEWNET) {
			return fmt.Errorf("%q is not allowed in the host's network namespace", s)
		}
		if path := c.NamespacePath(configs.NEWNET); path != "" {
			host, err := isHostNetNS(path)
			if err != nil {
				return fmt.Errorf("cannot check the network namespace: %w", err)
			}
			if host {
				return fmt.Errorf("%q is not allowed in the host's network namespace", s)
			}
		}
		return nil
	case s == "kernel.domainname" && c.HasNamespace(configs.NEWUTS):
		return nil
	case s == "kernel.hostname" && c.HasNamespace(configs.NEWUTS):
		return fmt.Errorf("%q conflicts with the \"hostname\" field; use that instead", s)
	}
	return fmt.Errorf("%q is not in a namespace of its own (it would change the host)", s)
}

// sysctlDotted converts the slash form ("net/ipv4/ip_forward") to the
// dotted one. A key is in slash form when its first separator is '/'.
func sysctlDotted(key string) string {
	i := strings.IndexAny(key, "./")
	if i < 0 || key[i] == '.' {
		return key
	}
	return swapDotSlash(key)
}

func swapDotSlash(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, s)
}

// checkSysctlName rejects keys whose /proc/sys path would not be a plain
// path below /proc/sys.
func checkSysctlName(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	for _, part := range strings.Split(swapDotSlash(s), "/") {
		if part == "" || part == "." || part == ".." || strings.IndexByte(part, 0) >= 0 {
			return fmt.Errorf("%q is not a valid sysctl name", s)
		}
	}
	return nil
}

// isHostNetNS reports whether path is the network namespace skiff runs
// in. This is the one place ToConfig looks at the system besides the
// rootfs: a path is all config.json gives, and only the kernel knows
// which namespace it names.
var isHostNetNS = func(path string) (bool, error) {
	var self, other unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &self); err != nil {
		return false, &os.PathError{Op: "stat", Path: "/proc/self/ns/net", Err: err}
	}
	if err := unix.Stat(path, &other); err != nil {
		return false, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return self.Dev == other.Dev && self.Ino == other.Ino, nil
}

// sortedKeys makes map-driven validation report errors in a stable order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
