package libcontainer

import (
	"fmt"
	"strings"
	"time"

	"github.com/skiff-runtime/skiff/libcontainer/logs"
)

// trace times the phases of one operation for --debug, and logs them as
// one line when it is done:
//
//	create c1: config 0.41ms, state dir 0.05ms, cgroup 0.62ms, ... = 6.2ms
//
// Without --debug it costs one branch per phase.
type trace struct {
	what        string
	start, last time.Time
	phases      strings.Builder
	on          bool
}

func newTrace(what string) *trace {
	t := &trace{what: what, on: logs.DebugEnabled()}
	if t.on {
		t.start = time.Now()
		t.last = t.start
	}
	return t
}

// mark ends the phase that started at the last mark (or at newTrace).
func (t *trace) mark(phase string) {
	if !t.on {
		return
	}
	now := time.Now()
	fmt.Fprintf(&t.phases, "%s %s, ", phase, ms(now.Sub(t.last)))
	t.last = now
}

// detail adds a note (e.g. the init's own step timings) without ending
// the phase.
func (t *trace) detail(s string) {
	if t.on {
		t.phases.WriteString(s)
		t.phases.WriteString(", ")
	}
}

// done logs the line.
func (t *trace) done() {
	if !t.on {
		return
	}
	logs.Debugf("%s: %s= %s", t.what, t.phases.String(), ms(time.Since(t.start)))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}
