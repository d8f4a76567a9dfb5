package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// tapSummary is what one program printed, judged by the rules the suite
// needs rather than by a generic TAP consumer: `prove` cannot read it,
// because tap-go writes its YAML diagnostics as JSON.
type tapSummary struct {
	OK      int // passing assertions, including passing TODOs
	NotOK   int // failing assertions that are not TODO
	Skipped int // "ok N # SKIP"
	Todo    int // "not ok N # TODO": expected failures, never fatal
	Docs    int // TAP documents ("TAP version" headers, or one implicit)

	// Problems are reasons the output alone makes the program fail
	// (plan mismatch, missing plan, an error diagnostic under `1..0`,
	// "Bail out!"); empty when the output is clean.
	Problems []string
}

var (
	planRe = regexp.MustCompile(`^1\.\.(\d+)\s*(#.*)?$`)
	testRe = regexp.MustCompile(`^(not ok|ok)\b\s*(\d*)\s*-?\s*([^#]*)(#\s*(\S+)\s*(.*))?$`)
)

type tapDoc struct {
	plan      int // -1 while no plan has been seen
	plans     int
	tests     int
	next      int // expected number of the next test line
	errorDiag bool
	lines     int // TAP lines seen, to ignore stray empty headers
}

func newTapDoc() *tapDoc { return &tapDoc{plan: -1, next: 1} }

// parseTAP reads the whole stdout of one validation program.
func parseTAP(r io.Reader) (tapSummary, error) {
	var s tapSummary
	var doc *tapDoc
	var yaml []string
	inYAML := false

	finish := func() {
		if doc == nil {
			return
		}
		s.Docs++
		n := s.Docs
		switch {
		case doc.plans > 1:
			s.Problems = append(s.Problems, fmt.Sprintf("TAP document %d has %d plans", n, doc.plans))
		case doc.plan < 0:
			s.Problems = append(s.Problems, fmt.Sprintf("TAP document %d has no plan (%d tests)", n, doc.tests))
		case doc.plan != doc.tests:
			s.Problems = append(s.Problems, fmt.Sprintf("TAP document %d: plan 1..%d but %d tests", n, doc.plan, doc.tests))
		case doc.plan == 0 && doc.errorDiag:
			// The lifecycle and hook programs report their only
			// verdict this way: no assertions, one error diagnostic.
			s.Problems = append(s.Problems, fmt.Sprintf("TAP document %d: 1..0 with an error diagnostic", n))
		}
		doc = nil
	}

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if inYAML {
			if trimmed == "..." {
				inYAML = false
				if doc != nil && yamlHasError(yaml) {
					doc.errorDiag = true
				}
				yaml = nil
				continue
			}
			yaml = append(yaml, line)
			continue
		}
		// A YAML block is indented and only follows TAP lines; at
		// column 0, "---" would be an ordinary non-TAP line.
		if trimmed == "---" && strings.HasPrefix(line, " ") {
			inYAML = true
			continue
		}
		if strings.HasPrefix(line, "TAP version ") {
			// tap.Header(0) followed by another header prints an
			// empty document; it carries no verdict either way.
			if doc != nil && doc.lines == 0 && !doc.errorDiag {
				doc = nil
			}
			finish()
			doc = newTapDoc()
			continue
		}
		if strings.HasPrefix(line, "Bail out!") {
			s.Problems = append(s.Problems, strings.TrimSpace(line))
			continue
		}
		if m := planRe.FindStringSubmatch(line); m != nil {
			if doc == nil {
				doc = newTapDoc()
			}
			n, err := strconv.Atoi(m[1])
			if err != nil {
				return s, fmt.Errorf("bad plan %q: %w", line, err)
			}
			doc.plan = n
			doc.plans++
			doc.lines++
			continue
		}
		if m := testRe.FindStringSubmatch(line); m != nil {
			if doc == nil {
				doc = newTapDoc()
			}
			doc.tests++
			doc.lines++
			if m[2] != "" {
				if n, _ := strconv.Atoi(m[2]); n != doc.next {
					s.Problems = append(s.Problems, fmt.Sprintf("test number %d out of sequence (expected %d)", n, doc.next))
					doc.next = n
				}
			}
			doc.next++
			directive := strings.ToUpper(m[5])
			switch {
			case m[1] == "ok" && strings.HasPrefix(directive, "SKIP"):
				s.Skipped++
			case m[1] == "ok":
				s.OK++
			case strings.HasPrefix(directive, "TODO"):
				s.Todo++
			default:
				s.NotOK++
			}
			continue
		}
		// Diagnostics ("# ...") and anything else are not verdicts.
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if inYAML {
		s.Problems = append(s.Problems, "unterminated YAML block")
	}
	finish()
	return s, nil
}

// yamlHasError reports whether a diagnostic block has a top-level "error"
// key. tap-go writes JSON; a real YAML mapping is handled too in case a
// program is ever built with tap-go's yaml tag.
func yamlHasError(block []string) bool {
	text := strings.Join(block, "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err == nil {
		_, ok := m["error"]
		return ok
	}
	for _, l := range block {
		if strings.HasPrefix(strings.TrimSpace(l), "error:") {
			return true
		}
	}
	return false
}
