package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Runtime is one column bench.sh measured.
type Runtime struct {
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
	Floor   bool   `json:"floor,omitempty"` // floor.c, not a runtime
}

// Header is what bench.sh's text output says about the run.
type Header struct {
	Started   string    `json:"started"`
	Host      string    `json:"host"`
	Kernel    string    `json:"kernel"`
	CPUs      int       `json:"cpus"`
	Cgroup    string    `json:"cgroup"`
	LoadStart string    `json:"load_start"`
	LoadEnd   string    `json:"load_end"`
	Busy      string    `json:"busy"`
	Settings  string    `json:"settings"`
	Elapsed   int       `json:"elapsed_s"`
	Failures  int       `json:"failures"`
	Errors    []string  `json:"errors,omitempty"`
	Columns   []Runtime `json:"columns"`
}

var (
	reBanner  = regexp.MustCompile(`^== OCI runtime benchmark\s+(.+?)\s+host (\S+) kernel (\S+)`)
	reCPUs    = regexp.MustCompile(`^\s+cpus (\d+) .*load at start: (\S+ \S+ \S+)\s+cgroup: (\S+)`)
	reRuntime = regexp.MustCompile(`^   (\S+)\s+(/\S+)\s+\((.*)\)\s*$`)
	reFloor   = regexp.MustCompile(`^   floor\s+floor\.c:`)
	reEnd     = regexp.MustCompile(`^elapsed (\d+)s, load at end: (\S+ \S+ \S+), failures: (\d+)`)
)

// parseHeader reads bench.sh's stdout. Only the banner and the footer
// are used: the figures come from the raw samples, which keep every
// sample rather than bench.sh's rounded medians.
func parseHeader(r io.Reader) (*Header, error) {
	h := &Header{}
	floor := false
	inErrors := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if inErrors {
			if strings.HasPrefix(line, "  ") {
				h.Errors = append(h.Errors, strings.TrimSpace(line))
				continue
			}
			inErrors = false
		}
		switch {
		case reBanner.MatchString(line):
			m := reBanner.FindStringSubmatch(line)
			h.Started, h.Host, h.Kernel = m[1], m[2], m[3]
		case reCPUs.MatchString(line):
			m := reCPUs.FindStringSubmatch(line)
			h.CPUs, _ = strconv.Atoi(m[1])
			h.LoadStart, h.Cgroup = m[2], m[3]
		case h.Settings == "" && reFloor.MatchString(line):
			floor = true
		case h.Settings == "" && reRuntime.MatchString(line):
			m := reRuntime.FindStringSubmatch(line)
			h.Columns = append(h.Columns, Runtime{Name: m[1], Path: m[2], Version: m[3]})
		case strings.HasPrefix(line, "   settings: "):
			h.Settings = strings.TrimPrefix(line, "   settings: ")
		case reEnd.MatchString(line):
			m := reEnd.FindStringSubmatch(line)
			h.Elapsed, _ = strconv.Atoi(m[1])
			h.LoadEnd = m[2]
			h.Failures, _ = strconv.Atoi(m[3])
		case strings.HasPrefix(line, "machine CPU busy"):
			h.Busy = line
		case line == "last runtime errors/warnings:":
			inErrors = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(h.Columns) == 0 {
		return nil, fmt.Errorf("no runtime lines in bench.sh output (is it bench.sh's stdout?)")
	}
	if floor {
		h.Columns = append(h.Columns, Runtime{Name: "floor", Floor: true}, Runtime{Name: "floor+cg", Floor: true})
	}
	return h, nil
}

// readSamples loads bench.sh's --out directory: one file per metric
// and column, "<metric>.<column index>", one integer per line.
// It returns samples[metric][column].
func readSamples(dir string) (map[string]map[int][]float64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	out := map[string]map[int][]float64{}
	for _, e := range entries {
		key, col, ok := strings.Cut(e.Name(), ".")
		if !ok || e.IsDir() || key == "waitwhat" {
			continue
		}
		c, err := strconv.Atoi(col)
		if err != nil {
			continue // errors.log
		}
		vals, err := readNumbers(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if out[key] == nil {
			out[key] = map[int][]float64{}
		}
		out[key][c] = vals
	}
	return out, nil
}

func readNumbers(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var vals []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: bad sample %q", path, s)
		}
		vals = append(vals, v)
	}
	return vals, sc.Err()
}

// scalingLevels finds the L of the "list<L>" files, in numeric order.
func scalingLevels(samples map[string]map[int][]float64) []string {
	var ls []int
	for k := range samples {
		if n, err := strconv.Atoi(strings.TrimPrefix(k, "list")); err == nil && strings.HasPrefix(k, "list") {
			ls = append(ls, n)
		}
	}
	slices.Sort(ls)
	out := make([]string, len(ls))
	for i, n := range ls {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// waitWhat reads bench.sh's description of what waits after create.
func waitWhat(dir string, cols int) map[int]string {
	out := map[int]string{}
	for c := 0; c < cols; c++ {
		b, err := os.ReadFile(filepath.Join(dir, "waitwhat."+strconv.Itoa(c)))
		if err == nil {
			out[c] = strings.TrimSpace(string(b))
		}
	}
	return out
}
