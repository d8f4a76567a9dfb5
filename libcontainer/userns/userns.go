// Package userns tells whether skiff runs in a user namespace other than
// the host's (rootless, or inside a container), from the first line of
// /proc/self/uid_map, as github.com/moby/sys/userns does. It reads the
// file with plain system calls and parses it by hand: moby's os.Open,
// bufio and fmt.Sscanf made the check ~0.1 ms of page faults and system
// calls on every create, on a host where a page fault costs 15-20 us.
package userns

import (
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// RunningInUserNS reports whether skiff runs in a user namespace that is
// not the initial one. It reads /proc/self/uid_map once per process.
var RunningInUserNS = sync.OnceValue(runningInUserNS)

func runningInUserNS() bool {
	fd, err := unix.Open("/proc/self/uid_map", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		// The file exists wherever user namespaces are supported.
		return false
	}
	defer unix.Close(fd)
	// Only the first line matters, and it is at most 3 x 10 digits and
	// the padding between them.
	var buf [128]byte
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false
		}
		if m == 0 {
			break
		}
		n += m
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	return uidMapInUserNS(line)
}

// uidMapInUserNS judges the first line of a uid_map: empty (a new user
// namespace before its map is written) is one; the initial namespace's
// is "0 0 4294967295"; a line that cannot be read is taken for the
// initial namespace.
func uidMapInUserNS(line string) bool {
	if line == "" {
		return true
	}
	f := strings.Fields(line)
	if len(f) < 3 {
		return false
	}
	var n [3]int64
	for i := range n {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return false
		}
		n[i] = v
	}
	return !(n[0] == 0 && n[1] == 0 && n[2] == 4294967295)
}
