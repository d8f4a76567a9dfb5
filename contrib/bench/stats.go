package main

import (
	"math"
	"slices"
)

// Stats summarises one column of one metric, already in display units.
type Stats struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Mean   float64 `json:"mean"`
	P25    float64 `json:"p25"`
	P75    float64 `json:"p75"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// summarise uses the same quantile rule as bench.sh (the sample at
// rank floor((n-1)q)+1), so the JSON and bench.sh's own table agree.
func summarise(raw []float64, div float64) *Stats {
	if len(raw) == 0 {
		return nil
	}
	v := make([]float64, len(raw))
	sum := 0.0
	for i, x := range raw {
		v[i] = x / div
		sum += v[i]
	}
	slices.Sort(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	q := func(p float64) float64 { return v[int(float64(n-1)*p)] }
	return &Stats{
		N: n, Median: round(med), Mean: round(sum / float64(n)),
		P25: round(q(0.25)), P75: round(q(0.75)), Min: round(v[0]), Max: round(v[n-1]),
	}
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// Metric describes one of bench.sh's sample files ("<key>.<column>").
type Metric struct {
	Key     string
	Label   string
	Unit    string
	Div     float64 // raw sample / Div = display unit
	Higher  bool    // higher is better (throughput)
	UseMean bool    // tick-sampled CPU times: the mean is the unbiased figure
	Section string
}

// metrics lists what bench.sh records, in the order of its report.
// Latencies and CPU are sampled in microseconds, memory in KiB,
// throughput in containers per 1000 s.
func metrics(levels []string) []Metric {
	ms := func(key, label, section string) Metric {
		return Metric{Key: key, Label: label, Unit: "ms", Div: 1000, Section: section}
	}
	mib := func(key, label string) Metric {
		return Metric{Key: key, Label: label, Unit: "MiB", Div: 1024, Section: "memory"}
	}
	m := []Metric{
		ms("life", "run /bin/true incl. delete", "lifecycle"),
		{Key: "cpu", Label: "CPU user+sys per run (mean)", Unit: "ms", Div: 1000, UseMean: true, Section: "lifecycle"},
		{Key: "sys", Label: "  of which sys (mean)", Unit: "ms", Div: 1000, UseMean: true, Section: "lifecycle"},
		ms("create", "create", "phases"),
		ms("start", "start (command returns)", "phases"),
		ms("startran", "start (until /bin/true ran)", "phases"),
		ms("delete", "delete (stopped)", "phases"),
		ms("deletef", "delete -f (stopped)", "phases"),
		ms("exec", "exec /bin/true", "phases"),
		mib("maxrss", "peak RSS of run"),
		mib("waitrss", "RSS waiting after create"),
		mib("waitpss", "PSS waiting after create"),
	}
	for _, w := range []string{"2", "8", "32"} {
		m = append(m, Metric{Key: "tput" + w, Label: "throughput, " + w + " workers", Unit: "ctr/s", Div: 1000, Higher: true, Section: "throughput"})
	}
	for _, l := range levels {
		m = append(m, ms("run"+l, "run with "+l+" others", "scaling"))
	}
	for _, l := range levels {
		m = append(m, ms("list"+l, "list with "+l+" others", "scaling"))
	}
	for _, l := range levels {
		m = append(m, ms("state"+l, "state with "+l+" others", "scaling"))
	}
	return m
}

// value is the figure a metric is compared by.
func (m Metric) value(s *Stats) float64 {
	if m.UseMean {
		return s.Mean
	}
	return s.Median
}
