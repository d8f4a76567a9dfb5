package main

import "fmt"

// guardKeys are the metrics the CI guard holds skiff to.
var guardKeys = []string{"life", "exec"}

// GuardResult is the verdict on one metric.
type GuardResult struct {
	Key      string  `json:"key"`
	Skiff    float64 `json:"skiff"`
	Crun     float64 `json:"crun"`
	CrunName string  `json:"crun_name"`
	Ratio    float64 `json:"ratio"`
	Limit    float64 `json:"limit"`
	OK       bool    `json:"ok"`
	Why      string  `json:"why"`
}

// guard compares skiff's median of each guarded metric with the best
// crun's in the same run. A metric with too few samples on either side
// fails: a guard that silently compares nothing guards nothing.
func guard(r *Results, subject string, limit float64, minN int) []GuardResult {
	var out []GuardResult
	for _, key := range guardKeys {
		g := GuardResult{Key: key, Limit: limit}
		mr := r.metric(key)
		switch {
		case mr == nil:
			g.Why = "not measured"
		case mr.BestCrun == "":
			g.Why = "no crun column to compare with"
		default:
			s, c := mr.Values[subject], mr.Values[mr.BestCrun]
			g.CrunName = mr.BestCrun
			switch {
			case s == nil || s.N < minN:
				g.Why = fmt.Sprintf("%s has %d samples, want at least %d (did its runs fail?)", subject, n(s), minN)
			case c.N < minN:
				g.Why = fmt.Sprintf("%s has %d samples, want at least %d", mr.BestCrun, c.N, minN)
			default:
				g.Skiff, g.Crun = s.Median, c.Median
				g.Ratio = round(s.Median / c.Median)
				g.OK = g.Ratio <= limit
				g.Why = fmt.Sprintf("%s median %.2f ms = %.2fx %s's %.2f ms (limit %.2fx)",
					subject, s.Median, g.Ratio, mr.BestCrun, c.Median, limit)
			}
		}
		out = append(out, g)
	}
	return out
}

func n(s *Stats) int {
	if s == nil {
		return 0
	}
	return s.N
}
