package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// runReport is what a run writes to its results file, so runs against
// different runtimes can be put side by side later.
type runReport struct {
	Runtime string   `json:"runtime"`
	Label   string   `json:"label"`
	Version string   `json:"version"`
	Results []result `json:"results"`
}

func printTable(w io.Writer, results []result, lists *programLists) {
	width := len("PROGRAM")
	for _, r := range results {
		width = max(width, len(r.Program))
	}
	fmt.Fprintf(w, "%-*s %5s %6s %7s  %-6s %7s  %s\n", width, "PROGRAM", "OK", "NOT OK", "SKIPPED", "RESULT", "SECONDS", "LIST")
	for _, r := range results {
		verdict := "FAIL"
		if r.Pass {
			verdict = "PASS"
		}
		fmt.Fprintf(w, "%-*s %5d %6d %7d  %-6s %7.1f  %s\n", width, r.Program, r.OK, r.NotOK, r.Skipped, verdict, r.Seconds, lists.tag(r.Program))
	}
}

// printFailures lists why each failing program failed, one line each,
// so the table stays narrow.
func printFailures(w io.Writer, results []result, lists *programLists) {
	first := true
	for _, r := range results {
		if r.Pass {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nfailures:")
			first = false
		}
		why := r.Note
		if reason := lists.cannot[r.Program]; reason != "" {
			why = "[cannot pass here] " + why
		}
		fmt.Fprintf(w, "  %s: %s\n", r.Program, oneLine(why, 220))
	}
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max-3] + "..."
	}
	return s
}

func counts(results []result) (passed, failed int) {
	for _, r := range results {
		if r.Pass {
			passed++
		} else {
			failed++
		}
	}
	return
}

func writeReport(path string, rep runReport) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// compareReports prints a Markdown table with one column per results
// file and a pass count per runtime.
func compareReports(w io.Writer, paths []string, lists *programLists) error {
	var reps []runReport
	progSet := map[string]bool{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var rep runReport
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		reps = append(reps, rep)
		for _, r := range rep.Results {
			progSet[r.Program] = true
		}
	}
	var progs []string
	for p := range progSet {
		progs = append(progs, p)
	}
	sort.Strings(progs)
	fmt.Fprint(w, "| program |")
	for _, rep := range reps {
		fmt.Fprintf(w, " %s |", rep.Label)
	}
	fmt.Fprint(w, " list |\n|---|")
	for range reps {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprint(w, "---|\n")
	for _, p := range progs {
		fmt.Fprintf(w, "| %s |", p)
		for _, rep := range reps {
			cell := "not run"
			for _, r := range rep.Results {
				if r.Program == p {
					cell = "FAIL"
					if r.Pass {
						cell = "PASS"
					}
					cell += fmt.Sprintf(" (%d/%d/%d)", r.OK, r.NotOK, r.Skipped)
				}
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		fmt.Fprintf(w, " %s |\n", lists.tag(p))
	}
	fmt.Fprint(w, "| **passed** |")
	for _, rep := range reps {
		passed, failed := counts(rep.Results)
		fmt.Fprintf(w, " **%d** of %d |", passed, passed+failed)
	}
	fmt.Fprint(w, " |\n")
	return nil
}
