package libcontainer

import (
	"encoding/json"
	"strings"
	"testing"

	libcg "github.com/opencontainers/cgroups"

	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
)

// The stats event has runc's JSON shape: an idle v1 container's stats
// print the same keys as `runc events --stats`.
func TestStatsJSON(t *testing.T) {
	s := &cgroups.Stats{Stats: *libcg.NewStats()}
	s.CpuStats.CpuUsage.TotalUsage = 5
	s.CpuStats.CpuUsage.PercpuUsage = []uint64{2, 3}
	s.MemoryStats.Usage = libcg.MemoryData{Usage: 10, MaxUsage: 20, Limit: 30}
	s.MemoryStats.Stats["cache"] = 1
	s.PidsStats = libcg.PidsStats{Current: 1, Limit: 50}
	s.BlkioStats.IoServiceBytesRecursive = []libcg.BlkioStatEntry{{Major: 8, Op: "Read", Value: 4}}
	s.HugetlbStats["2MB"] = libcg.HugetlbStats{Usage: 1, MaxUsage: 2}
	data, err := json.Marshal(&Event{Type: "stats", ID: "c1", Data: convertStats(s)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"stats","id":"c1","data":{` +
		`"cpu":{"usage":{"total":5,"percpu":[2,3],"kernel":0,"user":0},"throttling":{}},` +
		`"cpuset":{"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,"sched_relax_domain_level":0},` +
		`"memory":{"usage":{"limit":30,"usage":10,"max":20,"failcnt":0},"swap":{"limit":0,"failcnt":0},"kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0},"raw":{"cache":1}},` +
		`"pids":{"current":1,"limit":50},` +
		`"blkio":{"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":4}]},` +
		`"hugetlb":{"2MB":{"usage":1,"max":2,"failcnt":0}},"intel_rdt":{},"network_interfaces":null}}`
	if string(data) != want {
		t.Errorf("got\n%s\nwant\n%s", data, want)
	}

	// v2 adds memory.events as event_count.
	s.MemoryEvents = map[string]uint64{"oom": 1, "oom_kill": 2}
	data, _ = json.Marshal(convertStats(s))
	if !strings.Contains(string(data), `"event_count":{"oom":1,"oom_kill":2}`) {
		t.Errorf("no event_count in %s", data)
	}
	if data, _ := json.Marshal(&Event{Type: "oom", ID: "c1"}); string(data) != `{"type":"oom","id":"c1"}` {
		t.Errorf("oom event: %s", data)
	}
}
