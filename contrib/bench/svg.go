package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
)

// chartPanels are the metrics the chart shows, one bar panel each.
var chartPanels = []struct{ key, title string }{
	{"life", "Lifecycle: run /bin/true until it exits, incl. delete (median, whisker p25-p75) [ms]"},
	{"cpu", "CPU (user+sys) per lifecycle, runtime and everything it waited for (mean) [ms]"},
	{"exec", "exec /bin/true into a running container (median, whisker p25-p75) [ms]"},
	{"maxrss", "Peak RSS of run (/usr/bin/time %M; median, whisker p25-p75) [MiB]"},
	{"waitrss", "RSS of what waits between create and start (median, whisker p25-p75) [MiB]"},
}

const (
	svgW      = 820
	labelW    = 110
	valueW    = 150
	rowH      = 22
	barH      = 14
	titleH    = 30
	panelGap  = 18
	headerH   = 56
	plotLeft  = labelW + 10
	plotRight = svgW - valueW
)

func barColour(rt Runtime) string {
	switch {
	case rt.Floor:
		return "#9ccc65"
	case rt.Name == "skiff":
		return "#1565c0"
	case isCrun(rt):
		return "#ef6c00"
	default:
		return "#757575"
	}
}

// niceStep picks a grid step of 1, 2 or 5 times a power of ten giving
// about five lines up to max.
func niceStep(max float64) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// writeSVG draws one horizontal bar panel per chart metric, a bar per
// column that has the metric. Plain SVG 1.1, no scripts or fonts to load.
func (r *Results) writeSVG(w io.Writer) error {
	var b strings.Builder
	y := headerH
	for _, p := range chartPanels {
		mr := r.metric(p.key)
		if mr == nil {
			continue
		}
		var rows []Runtime
		max := 0.0
		for _, rt := range r.Columns {
			s := mr.Values[rt.Name]
			if s == nil {
				continue
			}
			rows = append(rows, rt)
			max = math.Max(max, math.Max(mr.metric.value(s), s.P75))
		}
		if len(rows) == 0 {
			continue
		}
		step := niceStep(max)
		top := math.Ceil(max*1.05/step) * step
		x := func(v float64) float64 { return plotLeft + (plotRight-plotLeft)*v/top }
		fmt.Fprintf(&b, `<text x="10" y="%d" class="t">%s</text>`+"\n", y+18, html.EscapeString(p.title))
		y0 := y + titleH
		h := len(rows) * rowH
		for v := 0.0; v <= top+step/2; v += step {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="g"/>`, x(v), y0-4, x(v), y0+h)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="s" text-anchor="middle">%s</text>`+"\n", x(v), y0+h+12, strconv.FormatFloat(v, 'f', -1, 64))
		}
		for i, rt := range rows {
			s := mr.Values[rt.Name]
			v := mr.metric.value(s)
			ry := y0 + i*rowH
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="l" text-anchor="end">%s</text>`, labelW, ry+barH-2, html.EscapeString(rt.Name))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, plotLeft, ry, x(v)-plotLeft, barH, barColour(rt))
			if !mr.metric.UseMean && s.N > 1 && s.P75 > s.P25 {
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="w"/>`, x(s.P25), ry+barH/2, x(s.P75), ry+barH/2)
			}
			label := num(v)
			if ratio, ok := mr.Ratio[rt.Name]; ok && rt.Name != mr.BestCrun {
				label += fmt.Sprintf("  (%.2fx)", ratio)
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="v">%s</text>`+"\n", plotRight+8, ry+barH-2, label)
		}
		y = y0 + h + 16 + panelGap
	}
	_, err := fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">
<style>.t{font-size:13px;font-weight:bold}.l{font-size:12px}.v{font-size:12px}.s{font-size:10px;fill:#555}.g{stroke:#ddd}.w{stroke:#000;stroke-width:1.5}.h{font-size:16px;font-weight:bold}</style>
<rect width="100%%" height="100%%" fill="#fff"/>
<text x="10" y="22" class="h">skiff vs runc and crun</text>
<text x="10" y="40" class="s">%s</text>
%s</svg>
`, svgW, y, svgW, y, html.EscapeString(r.subtitle()), b.String())
	return err
}

func (r *Results) subtitle() string {
	s := fmt.Sprintf("%s, %d cpus, kernel %s, load %s -> %s. Ratio in brackets: to the best crun of that panel.",
		r.Started, r.CPUs, r.Kernel, r.LoadStart, r.LoadEnd)
	return s
}
