package tests

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary is a child subreaper, as containerd-shim is: detached
// containers are re-parented to it when the runtime exits, so their
// exit status can be collected, and any process a runtime leaves behind
// shows up as a child of ours instead of vanishing into PID 1 (which on
// some machines never reaps). Processes the tests start with os/exec
// are "tracked" and left for exec.Cmd.Wait; everything else that dies
// is reaped here and its status kept for waitExit.
var reaper = struct {
	mu      sync.Mutex
	tracked map[int]bool
	exited  map[int]unix.WaitStatus
	waiters map[int][]chan unix.WaitStatus
	kick    chan struct{}
}{
	tracked: map[int]bool{},
	exited:  map[int]unix.WaitStatus{},
	waiters: map[int][]chan unix.WaitStatus{},
	kick:    make(chan struct{}, 1),
}

func startReaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_CHILD_SUBREAPER: %w", err)
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGCHLD)
	go func() {
		// SIGCHLD can coalesce; the ticker is the backstop.
		tick := time.NewTicker(200 * time.Millisecond)
		for {
			select {
			case <-sigs:
			case <-tick.C:
			case <-reaper.kick:
			}
			reapOnce()
		}
	}()
	return nil
}

// startTracked starts cmd so that the reaper never steals its status.
func startTracked(cmd *exec.Cmd) error {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	reaper.tracked[cmd.Process.Pid] = true
	return nil
}

func waitTracked(cmd *exec.Cmd) error {
	err := cmd.Wait()
	reaper.mu.Lock()
	delete(reaper.tracked, cmd.Process.Pid)
	reaper.mu.Unlock()
	return err
}

func reapOnce() {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	for _, p := range children() {
		if p.state != 'Z' || reaper.tracked[p.pid] {
			continue
		}
		var ws unix.WaitStatus
		if wpid, err := unix.Wait4(p.pid, &ws, unix.WNOHANG, nil); err != nil || wpid != p.pid {
			continue
		}
		reaper.exited[p.pid] = ws
		for _, ch := range reaper.waiters[p.pid] {
			ch <- ws
		}
		delete(reaper.waiters, p.pid)
	}
}

// waitExit waits for a re-parented process (a container's init) to exit
// and returns its wait status.
func waitExit(pid int, timeout time.Duration) (unix.WaitStatus, error) {
	reaper.mu.Lock()
	if ws, ok := reaper.exited[pid]; ok {
		reaper.mu.Unlock()
		return ws, nil
	}
	ch := make(chan unix.WaitStatus, 1)
	reaper.waiters[pid] = append(reaper.waiters[pid], ch)
	reaper.mu.Unlock()
	select {
	case reaper.kick <- struct{}{}:
	default:
	}
	select {
	case ws := <-ch:
		return ws, nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("pid %d did not exit within %v (is it our child? ppid=%d)", pid, timeout, procStat(pid).ppid)
	}
}

type procInfo struct {
	pid, ppid int
	state     byte
	start     uint64 // starttime, field 22: tells a reused PID apart
	comm      string
}

// procStat parses /proc/PID/stat; pid is 0 in the result if the
// process does not exist.
func procStat(pid int) procInfo {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}
	}
	s := string(b)
	// comm is in parentheses and may itself contain spaces or ")".
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procInfo{}
	}
	rest := strings.Fields(s[closing+1:])
	if len(rest) < 20 {
		return procInfo{}
	}
	p := procInfo{pid: pid, state: rest[0][0], comm: s[open+1 : closing]}
	p.ppid, _ = strconv.Atoi(rest[1])
	p.start, _ = strconv.ParseUint(rest[19], 10, 64)
	return p
}

func children() []procInfo { return childrenOf(os.Getpid()) }

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []procInfo {
	entries, _ := filepath.Glob("/proc/[0-9]*")
	var out []procInfo
	for _, e := range entries {
		n, err := strconv.Atoi(filepath.Base(e))
		if err != nil {
			continue
		}
		if p := procStat(n); p.pid != 0 && p.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// untrackedLiveChildren lists children that are neither os/exec
// commands of ours nor zombies: processes some runtime left behind.
func untrackedLiveChildren() []procInfo {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	var out []procInfo
	for _, p := range children() {
		if p.state != 'Z' && !reaper.tracked[p.pid] {
			out = append(out, p)
		}
	}
	return out
}
