package cgroups

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMergeResources(t *testing.T) {
	dev := func(maj, min int64) specs.LinuxBlockIODevice { return specs.LinuxBlockIODevice{Major: maj, Minor: min} }
	old := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(100)), Reservation: ptr(int64(50))},
		CPU:     &specs.LinuxCPU{Shares: ptr(uint64(512)), Cpus: "0-1"},
		BlockIO: &specs.LinuxBlockIO{
			ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 1}, {LinuxBlockIODevice: dev(8, 16), Rate: 2}},
		},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}},
		Unified:        map[string]string{"a": "1"},
	}
	before, _ := json.Marshal(old)
	req := &specs.LinuxResources{
		Memory:         &specs.LinuxMemory{Limit: ptr(int64(-1))},
		CPU:            &specs.LinuxCPU{Quota: ptr(int64(1000)), Mems: "0"},
		Pids:           &specs.LinuxPids{Limit: ptr(int64(10))},
		BlockIO:        &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 16), Rate: 3}}},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 5}, {Pagesize: "1GB", Limit: 6}},
		Network:        &specs.LinuxNetwork{ClassID: ptr(uint32(7))},
		Unified:        map[string]string{"b": "2"},
	}
	got, err := MergeResources(old, req)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(old); string(after) != string(before) {
		t.Errorf("old changed:\n%s\n%s", before, after)
	}
	// An unlimited memory without a swap value lifts the swap limit too.
	if *got.Memory.Limit != -1 || *got.Memory.Swap != -1 || *got.Memory.Reservation != 50 {
		t.Errorf("memory: %+v", got.Memory)
	}
	if *got.CPU.Shares != 512 || *got.CPU.Quota != 1000 || got.CPU.Cpus != "0-1" || got.CPU.Mems != "0" {
		t.Errorf("cpu: %+v", got.CPU)
	}
	if *got.Pids.Limit != 10 || *got.Network.ClassID != 7 || len(got.Devices) != 1 {
		t.Errorf("merged: %+v", got)
	}
	if tr := got.BlockIO.ThrottleReadBpsDevice; len(tr) != 2 || tr[0].Rate != 1 || tr[1].Rate != 3 {
		t.Errorf("throttle: %+v", tr)
	}
	if h := got.HugepageLimits; len(h) != 2 || h[0].Limit != 5 || h[1].Pagesize != "1GB" {
		t.Errorf("hugepages: %+v", h)
	}
	if got.Unified["a"] != "1" || got.Unified["b"] != "2" {
		t.Errorf("unified: %v", got.Unified)
	}

	got, err = MergeResources(nil, &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr(int64(5))}})
	if err != nil || *got.Memory.Swap != 5 || got.Memory.Limit != nil {
		t.Errorf("from nil: %+v, %v", got, err)
	}
}
