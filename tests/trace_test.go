package tests

import (
	"path/filepath"
	"regexp"
	"testing"
)

// --debug logs one line per operation with the time of each phase, and
// for create and exec the init's own steps (issue 7's "where the time
// went, per step of the plan").
func TestDebugTrace(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "debug.log")
	c := newCtr(t, sleeper)
	c.mustRun("--debug", "--log", logFile, "create", "--bundle", c.Bundle, c.ID)
	c.remember(c.mustState().Pid)
	c.mustRun("--debug", "--log", logFile, "start", c.ID)
	c.mustRun("--debug", "--log", logFile, "exec", c.ID, "true")
	c.mustRun("--debug", "--log", logFile, "delete", "--force", c.ID)
	log := readString(logFile)
	ms := `[0-9]+\.[0-9]{2}ms`
	for what, re := range map[string]string{
		"create": `create ` + c.ID + `: config ` + ms + `.* init started ` + ms + `.*\(init: init exec ` + ms + `.*create namespaces 0x[0-9a-f]+ ` + ms + `|\(init: init exec ` + ms,
		"start":  `start ` + c.ID + `: init [0-9]+ released ` + ms + `, = ` + ms,
		"exec":   `exec in ` + c.ID + `: plan of [0-9]+ steps queued, init started ` + ms + `.*\(init: init exec ` + ms,
		"delete": `delete ` + c.ID + `: .*cgroup removed ` + ms + `, state removed ` + ms + `, = ` + ms,
	} {
		if !regexp.MustCompile(re).MatchString(log) {
			t.Errorf("no %s trace matching %s in the debug log:\n%s", what, re, log)
		}
	}
}
