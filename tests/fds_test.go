package tests

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
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

// --preserve-fds N passes fds 3..3+N-1 as skiff's caller gave them. Where
// the caller left one of them closed, the container gets it closed too,
// not whatever skiff opened for itself at that number (its signalfd,
// its userfaultfd, a pipe): runc passes its own fds there.
func TestPreserveFDsOnlyTheCallers(t *testing.T) {
	if !runtimeIsSkiff() {
		t.Skip("runc passes its own fds in the gaps")
	}
	for _, cmd := range []string{"run", "exec"} {
		t.Run(cmd, func(t *testing.T) {
			r, _ := mustPipe(t)
			target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(r.Fd())))
			if err != nil {
				t.Fatal(err)
			}
			var res result
			if cmd == "run" {
				c := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{"/probe", "json"} })
				res = c.runWith(runOpts{extraFiles: []*os.File{r}}, "run", "--preserve-fds", "3", "--bundle", c.Bundle, c.ID)
			} else {
				c := runningCtr(t, nil)
				res = c.runWith(runOpts{extraFiles: []*os.File{r}}, "exec", "--preserve-fds", "3", c.ID, "/probe", "json")
			}
			if res.Code != 0 {
				t.Fatalf("%s", res)
			}
			f := parseFacts(t, res)
			checkFDs(t, f, 4)
			if len(f.Fds) == 4 && f.Fds[3].Target != target {
				t.Errorf("fd 3 is %q, want the caller's %q", f.Fds[3].Target, target)
			}
		})
	}
}
