package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
)

// programLists are the two files kept in the repository:
// expected-pass.txt (one program per line) and cannot-pass.txt
// ("program: reason"); '#' starts a comment in both.
type programLists struct {
	expected map[string]bool
	cannot   map[string]string
	// racy ("program: reason", racy.txt, optional): programs whose
	// outcome depends on a race the spec leaves open; a failure is
	// retried up to racyAttempts times.
	racy map[string]string
}

const racyAttempts = 5

func loadLists(expectedPath, cannotPath string) (*programLists, error) {
	l := &programLists{expected: map[string]bool{}, cannot: map[string]string{}}
	err := eachLine(expectedPath, func(n int, line string) error {
		if strings.ContainsAny(line, " \t:") {
			return fmt.Errorf("%s:%d: expected one program name, got %q", expectedPath, n, line)
		}
		l.expected[line] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = eachLine(cannotPath, func(n int, line string) error {
		prog, reason, ok := strings.Cut(line, ":")
		prog, reason = strings.TrimSpace(prog), strings.TrimSpace(reason)
		if !ok || prog == "" || reason == "" {
			return fmt.Errorf("%s:%d: want \"program: reason\", got %q", cannotPath, n, line)
		}
		if l.expected[prog] {
			return fmt.Errorf("%s:%d: %s is also in %s", cannotPath, n, prog, expectedPath)
		}
		l.cannot[prog] = reason
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.racy = map[string]string{}
	racyPath := strings.TrimSuffix(expectedPath, "expected-pass.txt") + "racy.txt"
	if _, err := os.Stat(racyPath); err == nil {
		err = eachLine(racyPath, func(n int, line string) error {
			prog, reason, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(reason) == "" {
				return fmt.Errorf("%s:%d: want \"program: reason\", got %q", racyPath, n, line)
			}
			l.racy[strings.TrimSpace(prog)] = strings.TrimSpace(reason)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

func eachLine(path string, fn func(n int, line string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	return sc.Err()
}

// validate checks the lists against the programs the suite has: every
// listed program exists, and every program is in exactly one list, so
// nothing fails without a written reason.
func (l *programLists) validate(programs []string) []string {
	have := map[string]bool{}
	for _, p := range programs {
		have[p] = true
	}
	var problems []string
	for _, m := range []map[string]bool{l.expected, keys(l.cannot)} {
		for p := range m {
			if !have[p] {
				problems = append(problems, fmt.Sprintf("%s is listed but not part of the suite", p))
			}
		}
	}
	for _, p := range programs {
		if !l.expected[p] && l.cannot[p] == "" {
			problems = append(problems, fmt.Sprintf("%s is in neither expected-pass.txt nor cannot-pass.txt", p))
		}
	}
	sort.Strings(problems)
	return problems
}

func keys(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func (l *programLists) tag(prog string) string {
	switch {
	case l.expected[prog]:
		return "expected"
	case l.cannot[prog] != "":
		return "cannot"
	}
	return "-"
}
