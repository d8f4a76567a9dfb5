package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// benchOut is a trimmed copy of what bench.sh prints.
const benchOut = `== OCI runtime benchmark  2026-11-30 11:58:41 UTC  host vm kernel 6.18.44-fc-v769
   cpus 2  mem 24 GiB  load at start: 1.57 1.87 1.51  cgroup: v1/hybrid
   skiff          /work/main/skiff  (skiff version 0.1.0)
   runc           /usr/sbin/runc  (runc version 1.1.5+ds1)
   crun           /usr/bin/crun  (crun version 1.8.1)
   crun-1.21      /x/cache/crun-1.21  (crun version 1.21)
   floor          floor.c: clone(pid,mnt,ipc,uts,net,cgroup)+spec mounts+pivot_root+exec; floor+cg adds mkdir
   settings: runs=5 phase-runs=3 mem-runs=1
  1 lifecycle (5 x 6) ... 11:58:41

Cells: median (ratio to skiff).
1. Lifecycle: run /bin/true in the foreground incl. delete [ms]
metric                                         skiff              runc              crun
run (median)                            17.1 (1.00x)      26.3 (1.54x)      9.6 (0.56x)

elapsed 4s, load at end: 1.76 1.91 1.52, failures: 2
machine CPU busy 51% of 2 cpus; this benchmark (runtimes it waited for) used ~53%, everything else ~-2%
last runtime errors/warnings:
      2 [11:58:42] skiff exec rc=1
`

func writeSamples(t *testing.T, dir string, files map[string][]int) {
	t.Helper()
	for name, vals := range files {
		var b strings.Builder
		for _, v := range vals {
			b.WriteString(strconv.Itoa(v) + "\n")
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture: columns 0 skiff, 1 runc, 2 crun, 3 crun-1.21, 4 floor, 5 floor+cg.
func fixture(t *testing.T, skiffExec []int) *Results {
	t.Helper()
	dir := t.TempDir()
	writeSamples(t, dir, map[string][]int{
		"life.0":    {17000, 16000, 18000},
		"life.1":    {26000, 25000, 27000},
		"life.2":    {10000, 9000, 11000},
		"life.3":    {8000, 7000, 9000, 7500},
		"life.4":    {3000},
		"cpu.0":     {10000, 20000, 20000},
		"cpu.2":     {10000, 0, 10000},
		"exec.0":    skiffExec,
		"exec.2":    {6000, 6000, 6000},
		"exec.3":    {5000, 5000, 5000},
		"maxrss.0":  {9216},
		"maxrss.2":  {3328},
		"tput8.0":   {50000},
		"tput8.2":   {80000},
		"list100.2": {3000},
		"list0.2":   {2000},
	})
	if err := os.WriteFile(filepath.Join(dir, "waitwhat.0"), []byte("skiff: 1 process(es): 'skiff init' (1 threads)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "errors.log"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "bench.txt")
	if err := os.WriteFile(text, []byte(benchOut), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := load("ci", text, dir)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestParseHeader(t *testing.T) {
	h, err := parseHeader(strings.NewReader(benchOut))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range h.Columns {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, " "); got != "skiff runc crun crun-1.21 floor floor+cg" {
		t.Errorf("columns = %q", got)
	}
	if h.Columns[3].Version != "crun version 1.21" || h.Columns[0].Path != "/work/main/skiff" {
		t.Errorf("runtime line parsed as %+v", h.Columns[3])
	}
	if h.CPUs != 2 || h.LoadStart != "1.57 1.87 1.51" || h.LoadEnd != "1.76 1.91 1.52" || h.Cgroup != "v1/hybrid" {
		t.Errorf("header = %+v", h)
	}
	if h.Failures != 2 || h.Elapsed != 4 || len(h.Errors) != 1 || !strings.Contains(h.Busy, "busy 51%") {
		t.Errorf("footer = failures %d elapsed %d errors %q busy %q", h.Failures, h.Elapsed, h.Errors, h.Busy)
	}
}

func TestParseHeaderRejectsOtherText(t *testing.T) {
	if _, err := parseHeader(strings.NewReader("hello\n")); err == nil {
		t.Fatal("no error for text without runtime lines")
	}
}

func TestSummarise(t *testing.T) {
	s := summarise([]float64{4000, 1000, 3000, 2000}, 1000)
	if s.N != 4 || s.Median != 2.5 || s.Mean != 2.5 || s.Min != 1 || s.Max != 4 || s.P25 != 1 || s.P75 != 3 {
		t.Errorf("summarise = %+v", s)
	}
	if summarise(nil, 1) != nil {
		t.Error("summarise(nil) is not nil")
	}
}

func TestBuildRatiosToBestCrun(t *testing.T) {
	res := fixture(t, []int{12000, 12000, 12000})
	if res.FasterCrun != "crun-1.21" {
		t.Errorf("faster crun = %q", res.FasterCrun)
	}
	life := res.metric("life")
	if life.BestCrun != "crun-1.21" || life.Values["crun-1.21"].Median != 7.75 {
		t.Fatalf("life = %+v", life)
	}
	if r := life.Ratio["skiff"]; r != round(17.0/7.75) {
		t.Errorf("skiff life ratio = %v", r)
	}
	// CPU is tick-sampled: compared by the mean.
	if cpu := res.metric("cpu"); cpu.Figure != "mean" || cpu.Ratio["skiff"] != round(50.0/3/(20.0/3)) {
		t.Errorf("cpu = %+v ratio %v", cpu, cpu.Ratio)
	}
	// Throughput: higher is better, so the best crun is the fastest.
	if tp := res.metric("tput8"); !tp.HigherIsBetter || tp.BestCrun != "crun" || tp.Values["crun"].Median != 80 {
		t.Errorf("tput8 = %+v", tp)
	}
	if res.metric("list100") == nil || res.metric("list0") == nil {
		t.Error("scaling levels not found")
	}
	if res.metric("deletef") != nil {
		t.Error("metric without samples kept")
	}
	if !strings.Contains(res.WaitWhat["skiff"], "skiff init") {
		t.Errorf("waitwhat = %v", res.WaitWhat)
	}
}

func TestGuard(t *testing.T) {
	res := fixture(t, []int{7000, 7000, 8000})
	gs := guard(res, "skiff", 1.5, 3)
	if len(gs) != 2 {
		t.Fatalf("guard = %+v", gs)
	}
	if gs[0].Key != "life" || gs[0].OK { // 17 / 7.75 > 1.5
		t.Errorf("life verdict = %+v", gs[0])
	}
	if gs[1].Key != "exec" || !gs[1].OK || gs[1].CrunName != "crun-1.21" || gs[1].Ratio != 1.4 {
		t.Errorf("exec verdict = %+v", gs[1])
	}
	// Too few samples fails rather than passing silently.
	gs = guard(res, "skiff", 1.5, 4)
	if gs[1].OK || !strings.Contains(gs[1].Why, "samples") {
		t.Errorf("exec verdict with 3 < 4 samples = %+v", gs[1])
	}
	if gs := guard(res, "nobody", 1.5, 1); gs[0].OK {
		t.Errorf("guard of a column without samples passed: %+v", gs[0])
	}
}

func TestOutputs(t *testing.T) {
	res := fixture(t, []int{12000})
	dir := t.TempDir()
	js, svg, md := filepath.Join(dir, "r.json"), filepath.Join(dir, "c.svg"), filepath.Join(dir, "t.md")
	if err := writeOutputs(res, js, svg, md); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	// Well-formed XML with a bar per runtime in the lifecycle panel.
	d := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("svg is not well-formed: %v", err)
			}
			break
		}
	}
	for _, want := range []string{"Lifecycle", "crun-1.21", ">floor<", "(2.19x)"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("svg lacks %q", want)
		}
	}
	m, _ := os.ReadFile(md)
	if !strings.Contains(string(m), "| run /bin/true incl. delete [ms] | 17.0 (2.19x) |") {
		t.Errorf("markdown table:\n%s", m)
	}
	j, _ := os.ReadFile(js)
	if !strings.Contains(string(j), `"faster_crun": "crun-1.21"`) {
		t.Errorf("json lacks faster_crun:\n%.400s", j)
	}
	var out strings.Builder
	res.printTable(&out)
	if !strings.Contains(out.String(), "Faster crun (lifecycle): crun-1.21") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestNiceStep(t *testing.T) {
	for _, c := range []struct{ max, want float64 }{{27, 10}, {9.7, 2}, {3.3, 1}, {120, 50}, {0, 1}} {
		if got := niceStep(c.max); got != c.want {
			t.Errorf("niceStep(%v) = %v, want %v", c.max, got, c.want)
		}
	}
}
