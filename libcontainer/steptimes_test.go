package libcontainer

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/skiff-runtime/skiff/libcontainer/initplan"
)

// stepTimesPayload builds MSG_STEP_TIMES as nsenter/trace.c sends it.
func stepTimesPayload(started uint64, steps []uint64, end uint64) []byte {
	b := binary.NativeEndian.AppendUint64(nil, started)
	b = binary.NativeEndian.AppendUint32(b, uint32(len(steps)))
	for _, s := range steps {
		b = binary.NativeEndian.AppendUint64(b, s)
	}
	return binary.NativeEndian.AppendUint64(b, end)
}

func TestStepSummary(t *testing.T) {
	plan := &initplan.Plan{Steps: []initplan.Step{
		initplan.NSUnshare{Flags: 0x20000}, initplan.ForkInit{}, initplan.Setsid{}, initplan.PivotRoot{},
	}}
	const us = 1000
	p := &initProcess{startedNs: 1000 * us}
	// Started 300us after the parent's start; steps take 900, 10, 20
	// and 200us.
	p.stepTimes = stepTimesPayload(1300*us, []uint64{1350 * us, 2250 * us, 2260 * us, 2280 * us}, 2480*us)
	got := p.stepSummary(plan)
	for _, want := range []string{"init exec 0.30ms", "plan read 0.05ms", "create namespaces 0x20000 0.90ms", "pivot_root 0.20ms", "2 more steps 0.03ms"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "setsid") {
		t.Errorf("summary %q names a step under 50us", got)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"too many":  stepTimesPayload(0, make([]uint64, 5), 0),
		"truncated": stepTimesPayload(0, make([]uint64, 2), 0)[:20],
	} {
		p.stepTimes = b
		if got := p.stepSummary(plan); !strings.Contains(got, "step times") {
			t.Errorf("%s payload: %q, want a note that the times are unusable", name, got)
		}
	}
}
