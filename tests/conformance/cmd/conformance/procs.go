package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// strayProcesses finds processes left behind by one program: anything
// whose cwd, root or an open file is inside the sandbox. The programs and
// runtimes run with their cwd there, and containers keep the stdout and
// stderr files the suite creates in the bundle, so a process matching
// this can only come from this run; no other process is ever touched.
func strayProcesses(dir string) []int {
	self := os.Getpid()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if holdsPathUnder(pid, dir) {
			out = append(out, pid)
		}
	}
	return out
}

func holdsPathUnder(pid int, dir string) bool {
	base := filepath.Join("/proc", strconv.Itoa(pid))
	for _, l := range []string{"cwd", "root"} {
		if t, err := os.Readlink(filepath.Join(base, l)); err == nil && isUnder(t, dir) {
			return true
		}
	}
	fds, err := os.ReadDir(filepath.Join(base, "fd"))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		t, err := os.Readlink(filepath.Join(base, "fd", fd.Name()))
		if err == nil && isUnder(strings.TrimSuffix(t, " (deleted)"), dir) {
			return true
		}
	}
	return false
}

func procComm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// isZombie reports whether pid has exited and only waits to be reaped
// by its parent (which is not us), or is already gone.
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// killStrays SIGKILLs the given processes by PID and waits briefly for
// them to go. It returns a description of each one killed.
func killStrays(pids []int) []string {
	var out []string
	for _, pid := range pids {
		if isZombie(pid) {
			continue
		}
		out = append(out, fmt.Sprintf("%d (%s)", pid, procComm(pid)))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, pid := range pids {
		for !isZombie(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return out
}
