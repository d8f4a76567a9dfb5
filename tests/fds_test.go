package tests

import (
	"fmt"
	"os"
	"testing"
)

func TestNoFDLeakRun(t *testing.T) {
	f, _ := probe(t, nil)
	checkFDs(t, f, 3)
}

func TestNoFDLeakCreateStart(t *testing.T) {
	c := newCtr(t, nil)
	r := c.create()
	pid := c.mustState().Pid
	c.mustRun("start", c.ID)
	if _, err := waitExit(pid, cmdTimeout); err != nil {
		t.Fatal(err)
	}
	f := parseFacts(t, result{Args: r.Args, Stdout: readString(r.StdoutPath)})
	checkFDs(t, f, 3)
}

// --preserve-fds 2 passes exactly fds 3 and 4, and they are the pipes
// given to the runtime.
func TestPreserveFDs(t *testing.T) {
	var extra []*os.File
	var want []string
	for i := 0; i < 2; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", w.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		extra = append(extra, w)
		want = append(want, target)
	}
	for _, cmd := range []string{"run", "create"} {
		t.Run(cmd, func(t *testing.T) {
			c := newCtr(t, nil)
			res := c.runWith(runOpts{extraFiles: extra}, cmd, "--preserve-fds", "2", "--bundle", c.Bundle, c.ID)
			if res.Code != 0 {
				t.Fatalf("%s", res)
			}
			if cmd == "create" {
				pid := c.mustState().Pid
				c.remember(pid)
				c.mustRun("start", c.ID)
				if _, err := waitExit(pid, cmdTimeout); err != nil {
					t.Fatal(err)
				}
				res.Stdout = readString(res.StdoutPath)
			}
			f := parseFacts(t, res)
			checkFDs(t, f, 5)
			for i, target := range want {
				if len(f.Fds) == 5 && f.Fds[3+i].Target != target {
					t.Errorf("fd %d is %q, want %q", 3+i, f.Fds[3+i].Target, target)
				}
			}
		})
	}
}
