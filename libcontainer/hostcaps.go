package libcontainer

import (
	"fmt"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"
)

type hostCaps struct {
	bounding uint64
	last     uint32
	byName   map[string]uint32
}

// hostCapabilities says which capabilities skiff itself can hand out.
// One prctl per capability is cheaper than reading /proc/self/status
// and /proc/sys/kernel/cap_last_cap: the first capability the kernel
// does not know ends the loop with EINVAL.
var hostCapabilities = sync.OnceValues(func() (*hostCaps, error) {
	h := &hostCaps{byName: map[string]uint32{}}
	n := 0
	for ; n < 64; n++ {
		held, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0)
		if err == unix.EINVAL {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the bounding set: %w", err)
		}
		if held == 1 {
			h.bounding |= 1 << n
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("read the bounding set: the kernel knows no capability")
	}
	h.last = uint32(n - 1)
	for _, c := range capability.ListKnown() {
		h.byName["CAP_"+strings.ToUpper(c.String())] = uint32(c)
	}
	return h, nil
})
