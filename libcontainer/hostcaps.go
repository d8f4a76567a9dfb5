package libcontainer

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
)

type hostCaps struct {
	bounding uint64
	last     uint32
	byName   map[string]uint32
}

// hostCapabilities says which capabilities skiff itself can hand out.
var hostCapabilities = sync.OnceValues(func() (*hostCaps, error) {
	last, err := capability.LastCap()
	if err != nil {
		return nil, err
	}
	h := &hostCaps{last: uint32(last), byName: map[string]uint32{}}
	for _, c := range capability.ListKnown() {
		h.byName["CAP_"+strings.ToUpper(c.String())] = uint32(c)
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapBnd:"); ok {
			h.bounding, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("parse CapBnd: %w", err)
			}
			return h, nil
		}
	}
	return nil, fmt.Errorf("no CapBnd in /proc/self/status")
})
