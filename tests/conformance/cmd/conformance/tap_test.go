package main

import (
	"strings"
	"testing"
)

func TestParseTAP(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		in                    string
		ok, notOK, skip, todo int
		docs                  int
		problem               string // substring of the only problem, "" for none
	}{
		{
			name: "clean with JSON diagnostics",
			in: "TAP version 13\nok 1 - a\n  ---\n  {\n    \"actual\": \"x\",\n    \"error\": \"only a detail\"\n  }\n  ...\n" +
				"ok 2 # SKIP not set\n1..2\n",
			ok: 1, skip: 1, docs: 1,
		},
		{
			name: "not ok counted", in: "TAP version 13\nnot ok 1 - a\nok 2 - b\n1..2\n",
			ok: 1, notOK: 1, docs: 1,
		},
		{
			name: "plan mismatch", in: "TAP version 13\nok 1 - a\n1..2\n",
			ok: 1, docs: 1, problem: "plan 1..2 but 1 tests",
		},
		{
			name: "missing plan", in: "TAP version 13\nok 1 - a\n",
			ok: 1, docs: 1, problem: "no plan",
		},
		{
			name: "1..0 with error diagnostic",
			in:   "TAP version 13\n  ---\n  {\n    \"error\": \"Hooks MUST be called in the listed order\"\n  }\n  ...\n1..0\n",
			docs: 1, problem: "1..0 with an error",
		},
		{
			name: "1..0 without diagnostic passes", in: "TAP version 13\n1..0\n", docs: 1,
		},
		{
			name: "fail programs print nothing", in: "",
		},
		{
			name: "two documents, each with its plan",
			in:   "TAP version 13\nok 1 - a\n1..1\nTAP version 13\nok 1 - b\nok 2 - c\n1..2\n",
			ok:   3, docs: 2,
		},
		{
			name: "second document plan mismatch",
			in:   "TAP version 13\nok 1 - a\n1..1\nTAP version 13\nok 1 - b\n1..2\n",
			ok:   2, docs: 2, problem: "document 2: plan 1..2 but 1 tests",
		},
		{
			name: "plan first", in: "TAP version 13\n1..2\nok 1 - a\nok 2 - b\n", ok: 2, docs: 1,
		},
		{
			name: "TODO failure is not a failure", in: "TAP version 13\nnot ok 1 # TODO later\nok 2 - b\n1..2\n",
			ok: 1, todo: 1, docs: 1,
		},
		{
			name: "nested TAP inside a diagnostic is not parsed",
			in:   "TAP version 13\n  ---\n  {\n    \"stdout\": \"TAP version 13\\nnot ok 1 - x\\n1..1\\n\"\n  }\n  ...\nok 1 - inner\n1..1\n",
			ok:   1, docs: 1,
		},
		{
			name: "bail out", in: "TAP version 13\nok 1 - a\nBail out! broken\n1..1\n",
			ok: 1, docs: 1, problem: "Bail out!",
		},
		{
			name: "out of sequence", in: "TAP version 13\nok 1 - a\nok 3 - b\n1..2\n",
			ok: 2, docs: 1, problem: "out of sequence",
		},
		{
			name: "diagnostics and stray lines ignored", in: "TAP version 13\n# expect: 1, actual: 1\nok 1 - a\nsomething else\n1..1\n",
			ok: 1, docs: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseTAP(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if s.OK != tc.ok || s.NotOK != tc.notOK || s.Skipped != tc.skip || s.Todo != tc.todo || s.Docs != tc.docs {
				t.Errorf("got ok=%d notok=%d skip=%d todo=%d docs=%d, want %d %d %d %d %d",
					s.OK, s.NotOK, s.Skipped, s.Todo, s.Docs, tc.ok, tc.notOK, tc.skip, tc.todo, tc.docs)
			}
			switch {
			case tc.problem == "" && len(s.Problems) > 0:
				t.Errorf("unexpected problems %q", s.Problems)
			case tc.problem != "" && (len(s.Problems) != 1 || !strings.Contains(s.Problems[0], tc.problem)):
				t.Errorf("problems %q, want one containing %q", s.Problems, tc.problem)
			}
		})
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/tmp/a\040b\134c`); got != `/tmp/a b\c` {
		t.Errorf("got %q", got)
	}
	if got := unescapeMountinfo(`/x\04`); got != `/x\04` {
		t.Errorf("short escape changed: %q", got)
	}
}

func TestV1Key(t *testing.T) {
	for in, want := range map[string]string{
		"rw,cpu":                   "cpu",
		"rw,cpuacct,cpu":           "cpu,cpuacct",
		"rw,name=systemd":          "name=systemd",
		"rw,xattr,name=systemd":    "name=systemd",
		"rw,release_agent=/x,pids": "pids",
	} {
		if got := v1Key(in); got != want {
			t.Errorf("v1Key(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWrapperScriptQuoting(t *testing.T) {
	s := wrapperScript("/opt/it's/runc", "/tmp/state dir", "")
	if !strings.Contains(s, `exec '/opt/it'\''s/runc' --root '/tmp/state dir' "$@"`) {
		t.Errorf("bad wrapper:\n%s", s)
	}
	if strings.Contains(s, "ociVersion") {
		t.Error("rewrite present without being asked for")
	}
	if !strings.Contains(wrapperScript("/x", "/y", "1.0.2"), `"ociVersion": "1.0.2"`) {
		t.Error("rewrite missing")
	}
}
