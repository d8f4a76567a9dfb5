// Command bench turns a run of ../shared/bench/bench.sh into
// results.json, a table with every runtime's ratio to the best crun, an
// SVG chart, and (for make bench-ci) a pass/fail verdict. run.sh drives
// it; see docs/performance.md.
//
// Usage:
//
//	bench -text bench.txt -samples DIR [-mode full|ci] [-json F] [-svg F]
//	      [-markdown F] [-guard 1.5 -min-samples N]
//
// -text is bench.sh's stdout, -samples its --out directory. With
// -guard, the exit status is 1 when skiff's lifecycle or exec median
// is more than that many times the best crun's.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	os.Exit(run())
}

func run() int {
	text := flag.String("text", "", "bench.sh's stdout, saved to a file")
	samplesDir := flag.String("samples", "", "bench.sh's --out directory")
	mode := flag.String("mode", "full", "what kind of run this was: full or ci")
	jsonOut := flag.String("json", "", "write the results as JSON here")
	svgOut := flag.String("svg", "", "write the chart here")
	mdOut := flag.String("markdown", "", "write the table as Markdown here")
	limit := flag.Float64("guard", 0, "fail when skiff's life or exec median exceeds this many times the best crun's (0: no check)")
	subject := flag.String("subject", "skiff", "the column the guard checks")
	minN := flag.Int("min-samples", 10, "fewer samples than this on either side fails the guard")
	quiet := flag.Bool("q", false, "do not print the table")
	flag.Parse()
	if *text == "" || *samplesDir == "" || flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	res, err := load(*mode, *text, *samplesDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if !*quiet {
		res.printTable(os.Stdout)
	}
	if *limit > 0 {
		res.Guard = guard(res, *subject, *limit, *minN)
	}
	if err := writeOutputs(res, *jsonOut, *svgOut, *mdOut); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if *limit <= 0 {
		return 0
	}
	status := 0
	fmt.Println()
	for _, g := range res.Guard {
		verdict := "ok  "
		if !g.OK {
			verdict, status = "FAIL", 1
		}
		fmt.Printf("guard %s %-5s %s\n", verdict, g.Key, g.Why)
	}
	return status
}

func load(mode, text, samplesDir string) (*Results, error) {
	f, err := os.Open(text)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := parseHeader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", text, err)
	}
	samples, err := readSamples(samplesDir)
	if err != nil {
		return nil, err
	}
	res := build(mode, h, samples, waitWhat(samplesDir, len(h.Columns)))
	if len(res.Metrics) == 0 {
		return nil, fmt.Errorf("%s holds no samples", samplesDir)
	}
	return res, nil
}

func writeOutputs(res *Results, jsonOut, svgOut, mdOut string) error {
	if jsonOut != "" {
		if err := res.writeJSON(jsonOut); err != nil {
			return err
		}
	}
	if svgOut != "" {
		var b strings.Builder
		if err := res.writeSVG(&b); err != nil {
			return err
		}
		if err := os.WriteFile(svgOut, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	if mdOut != "" {
		var b strings.Builder
		res.printMarkdown(&b)
		if err := os.WriteFile(mdOut, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
