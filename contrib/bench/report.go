package main

import (
	"fmt"
	"io"
	"strings"
)

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// cell is "value (ratio)", "value" when there is no crun to compare
// with, or "" when the column has no samples.
func (mr *MetricResult) cell(name string) string {
	s := mr.Values[name]
	if s == nil {
		return ""
	}
	out := num(mr.metric.value(s))
	if r, ok := mr.Ratio[name]; ok && name != mr.BestCrun {
		out += fmt.Sprintf(" (%.2fx)", r)
	}
	return out
}

// columns lists the columns that have at least one figure.
func (r *Results) columns() []Runtime {
	var out []Runtime
	for _, rt := range r.Columns {
		for _, mr := range r.Metrics {
			if mr.Values[rt.Name] != nil {
				out = append(out, rt)
				break
			}
		}
	}
	return out
}

// printTable writes the plain-text table that make bench shows.
func (r *Results) printTable(w io.Writer) {
	cols := r.columns()
	fmt.Fprintf(w, "\nskiff benchmark (%s run): %s, host %s, kernel %s, %d cpus, cgroup %s\n",
		r.Mode, r.Started, r.Host, r.Kernel, r.CPUs, r.Cgroup)
	fmt.Fprintf(w, "Cells: median (ratio to the best crun of that row, which shows no ratio); CPU: mean of tick-sampled runs.\n")
	fmt.Fprintf(w, "Lower is better except throughput. Faster crun (lifecycle): %s\n\n", orNone(r.FasterCrun))
	const lw, cw = 34, 16
	fmt.Fprintf(w, "%-*s", lw, "metric")
	for _, c := range cols {
		fmt.Fprintf(w, "%*s", cw, c.Name)
	}
	fmt.Fprintln(w)
	section := ""
	for _, mr := range r.Metrics {
		if mr.Section != section {
			section = mr.Section
			fmt.Fprintf(w, "[%s]\n", section)
		}
		fmt.Fprintf(w, "%-*s", lw, "  "+mr.Label+" ["+mr.Unit+"]")
		for _, c := range cols {
			fmt.Fprintf(w, "%*s", cw, mr.cell(c.Name))
		}
		fmt.Fprintln(w)
	}
	for _, c := range cols {
		if what := r.WaitWhat[c.Name]; what != "" {
			fmt.Fprintf(w, "  waiting after create: %s\n", what)
		}
	}
	fmt.Fprintf(w, "\nload at start %s, at end %s; elapsed %ds; failures %d\n%s\n",
		r.LoadStart, r.LoadEnd, r.Elapsed, r.Failures, r.Busy)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}

// printMarkdown writes the same table for docs/performance.md.
func (r *Results) printMarkdown(w io.Writer) {
	cols := r.columns()
	fmt.Fprintf(w, "| metric |")
	for _, c := range cols {
		fmt.Fprintf(w, " %s |", c.Name)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---:|", len(cols)))
	for _, mr := range r.Metrics {
		fmt.Fprintf(w, "| %s [%s] |", mr.Label, mr.Unit)
		for _, c := range cols {
			fmt.Fprintf(w, " %s |", mr.cell(c.Name))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n%s; load at start %s, at end %s; %d cpus; kernel %s; failures %d.\n",
		r.Started, r.LoadStart, r.LoadEnd, r.CPUs, r.Kernel, r.Failures)
	if r.Busy != "" {
		fmt.Fprintf(w, "%s.\n", strings.TrimSuffix(r.Busy, "."))
	}
	fmt.Fprintln(w)
	for _, c := range cols {
		if c.Version != "" {
			fmt.Fprintf(w, "- %s: %s (%s)\n", c.Name, c.Version, c.Path)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none measured"
	}
	return s
}
