package main

import (
	"encoding/json"
	"os"
	"strings"
)

// Results is what results.json holds: the run's context and, per metric,
// every column's statistics and its ratio to the best crun.
type Results struct {
	Mode string `json:"mode"`
	Header
	// FasterCrun is the crun column with the lower lifecycle median.
	FasterCrun string            `json:"faster_crun,omitempty"`
	Metrics    []MetricResult    `json:"metrics"`
	WaitWhat   map[string]string `json:"waiting_after_create,omitempty"`
	// Guard holds the CI verdicts when the run was checked.
	Guard []GuardResult `json:"guard,omitempty"`
}

// MetricResult is one metric over all columns. Ratio is value / the best
// crun's value of this metric (lower is better unless HigherIsBetter).
type MetricResult struct {
	Key            string             `json:"key"`
	Label          string             `json:"label"`
	Unit           string             `json:"unit"`
	Section        string             `json:"section"`
	HigherIsBetter bool               `json:"higher_is_better,omitempty"`
	Figure         string             `json:"figure"` // "median" or "mean"
	BestCrun       string             `json:"best_crun,omitempty"`
	Values         map[string]*Stats  `json:"values"`
	Ratio          map[string]float64 `json:"ratio_to_best_crun,omitempty"`

	metric Metric
}

func isCrun(rt Runtime) bool { return !rt.Floor && strings.HasPrefix(rt.Name, "crun") }

// build turns the samples into Results; columns without samples for a
// metric are left out of it, metrics without any samples are dropped.
func build(mode string, h *Header, samples map[string]map[int][]float64, waits map[int]string) *Results {
	res := &Results{Mode: mode, Header: *h, WaitWhat: map[string]string{}}
	for c, w := range waits {
		if c < len(h.Columns) {
			res.WaitWhat[h.Columns[c].Name] = w
		}
	}
	for _, m := range metrics(scalingLevels(samples)) {
		cols := samples[m.Key]
		if len(cols) == 0 {
			continue
		}
		mr := MetricResult{
			Key: m.Key, Label: strings.TrimSpace(m.Label), Unit: m.Unit, Section: m.Section,
			HigherIsBetter: m.Higher, Figure: "median", Values: map[string]*Stats{}, metric: m,
		}
		if m.UseMean {
			mr.Figure = "mean"
		}
		for c, rt := range h.Columns {
			if s := summarise(cols[c], m.Div); s != nil {
				mr.Values[rt.Name] = s
			}
		}
		mr.BestCrun = bestCrun(h.Columns, mr)
		if best := mr.Values[mr.BestCrun]; best != nil && m.value(best) != 0 {
			mr.Ratio = map[string]float64{}
			for name, s := range mr.Values {
				mr.Ratio[name] = round(m.value(s) / m.value(best))
			}
		}
		res.Metrics = append(res.Metrics, mr)
	}
	if life := res.metric("life"); life != nil {
		res.FasterCrun = life.BestCrun
	}
	return res
}

// bestCrun is the crun column that did best on this metric.
func bestCrun(cols []Runtime, mr MetricResult) string {
	best := ""
	for _, rt := range cols {
		s := mr.Values[rt.Name]
		if !isCrun(rt) || s == nil {
			continue
		}
		if best == "" {
			best = rt.Name
			continue
		}
		v, b := mr.metric.value(s), mr.metric.value(mr.Values[best])
		if (mr.HigherIsBetter && v > b) || (!mr.HigherIsBetter && v < b) {
			best = rt.Name
		}
	}
	return best
}

func (r *Results) metric(key string) *MetricResult {
	for i := range r.Metrics {
		if r.Metrics[i].Key == key {
			return &r.Metrics[i]
		}
	}
	return nil
}

func (r *Results) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
