package libcontainer

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/initplan"
)

// monotonicNs is CLOCK_MONOTONIC, the clock of the init's step times.
func monotonicNs() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}

// stepShown is the least time a step must take to be named in the
// trace; the others are summed.
const stepShown = 50 * time.Microsecond

// stepSummary reads the init's MSG_STEP_TIMES (nsenter/trace.c) into one
// line for the --debug trace: how long the init took to start, then the
// steps of plan in order that took stepShown or more, e.g.
//
//	init exec 0.31ms, create namespaces 0x7c020000 0.92ms, mount proc on /proc 0.10ms, 58 more steps 0.40ms
func (p *initProcess) stepSummary(plan *initplan.Plan) string {
	b := p.stepTimes
	if len(b) < 12 {
		return "no step times from the init"
	}
	started := binary.NativeEndian.Uint64(b)
	n := int(binary.NativeEndian.Uint32(b[8:]))
	if n > len(plan.Steps) || len(b) != 12+8*n+8 {
		return "malformed step times from the init"
	}
	at := func(i int) uint64 { return binary.NativeEndian.Uint64(b[12+8*i:]) }
	end := at(n)
	var out []string
	if p.startedNs != 0 && started > p.startedNs {
		out = append(out, "init exec "+ms(time.Duration(started-p.startedNs)))
	}
	if n > 0 && at(0) > started {
		out = append(out, "plan read "+ms(time.Duration(at(0)-started)))
	}
	var rest time.Duration
	hidden := 0
	for i := 0; i < n; i++ {
		next := end
		if i+1 < n {
			next = at(i + 1)
		}
		d := time.Duration(next - at(i))
		if d < stepShown {
			rest += d
			hidden++
			continue
		}
		out = append(out, fmt.Sprintf("%s %s", plan.Steps[i], ms(d)))
	}
	if hidden > 0 {
		out = append(out, fmt.Sprintf("%d more steps %s", hidden, ms(rest)))
	}
	return "init: " + strings.Join(out, ", ")
}
