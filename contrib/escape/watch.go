package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WatchReport is what `escape watch` prints.
type WatchReport struct {
	Loops         int            `json:"loops"`
	SkiffSeen     int            `json:"skiff_seen"`
	AttachTried   int            `json:"attach_tried"`
	AttachedOther int            `json:"attached_other"` // non-skiff processes attached (expected)
	Errnos        map[string]int `json:"errnos"`
	// AttachedSkiff: processes that were still skiff's init when this
	// process became their tracer.
	AttachedSkiff []Breach `json:"attached_skiff"`
	// LeakedFds: fds of a skiff init, seen from the container, that
	// are directories other than the container's root, or files
	// outside it.
	LeakedFds []string `json:"leaked_fds"`
	// ProcWrites: host-global procfs files (sysrq-trigger,
	// core_pattern) opened for writing through a skiff init's fd.
	ProcWrites []string `json:"proc_writes"`
	// SkiffFds: every fd target seen in a skiff init, for the report.
	SkiffFds []string `json:"skiff_fds"`
}

// watch attaches to every process that appears, as the CVE-2016-9962
// exploit does to `runc exec`'s init, and lists the fds of every skiff
// init it can see.
func watch(stop string, max time.Duration) *WatchReport {
	runtime.LockOSThread() // ptrace requests come from the tracer thread
	rep := &WatchReport{Errnos: map[string]int{}, AttachedSkiff: []Breach{}, LeakedFds: []string{}, SkiffFds: []string{}, ProcWrites: []string{}}
	self := os.Getpid()
	var root unix.Stat_t
	_ = unix.Stat("/", &root)
	tried := map[string]bool{}
	seen := map[string]bool{}
	fdSeen := map[string]bool{}
	deadline := time.Now().Add(max)
	for !stopped(stop, deadline) {
		rep.Loops++
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			key := fmt.Sprintf("%d/%s", pid, startTime(pid))
			cmd := cmdline(pid)
			skiffInit := strings.HasPrefix(cmd, "skiff init")
			if skiffInit {
				seen[key] = true
				scanFds(pid, &root, rep, fdSeen)
			}
			if tried[key] {
				continue
			}
			tried[key] = true
			rep.AttachTried++
			if err := unix.PtraceSeize(pid); err != nil {
				rep.Errnos["seize "+errnoName(err)]++
				continue
			}
			// Still skiff after we became the tracer: we were in time.
			if after := cmdline(pid); strings.HasPrefix(after, "skiff init") {
				rep.AttachedSkiff = append(rep.AttachedSkiff, Breach{Pid: pid, How: "PTRACE_SEIZE", Cmdline: after})
				scanFds(pid, &root, rep, fdSeen)
			} else {
				rep.AttachedOther++
			}
			detach(pid)
		}
		time.Sleep(100 * time.Microsecond)
	}
	rep.SkiffSeen = len(seen)
	return rep
}

func detach(pid int) {
	if unix.PtraceInterrupt(pid) != nil {
		return
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil || ws.Exited() || ws.Signaled() {
		return
	}
	_ = unix.PtraceDetach(pid)
}

// scanFds reads a skiff init's fd table. Sockets, pipes and the
// container's own root are expected. A procfs directory is a procfs
// instance without the container's masks: it counts as a way out if a
// host-global file in it opens for writing. Any other directory leads
// outside the container.
func scanFds(pid int, root *unix.Stat_t, rep *WatchReport, fdSeen map[string]bool) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	names, err := readDirNames(dir)
	if err != nil {
		rep.Errnos["fd list "+errnoName(err)]++
		return
	}
	// An init that dropped CAP_SYS_ADMIN from its bounding set is past
	// its setup (the pivot_root, the mounts): whatever it holds now it
	// keeps until execve, or until `start` for a created container.
	stage := "[during setup] "
	if !hasBoundingCap(pid, 21) {
		stage = "[after setup] "
	}
	var initRoot unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/root", pid), &initRoot) != nil {
		initRoot = *root
	}
	for _, n := range names {
		fdNum, _ := strconv.Atoi(n)
		target, err := os.Readlink(dir + "/" + n)
		if err != nil {
			rep.Errnos["fd readlink "+errnoName(err)]++
			continue
		}
		if !fdSeen[n+" "+target] {
			fdSeen[n+" "+target] = true
			rep.SkiffFds = append(rep.SkiffFds, fmt.Sprintf("pid %d fd %s -> %s", pid, n, target))
		}
		if fdNum <= 2 || strings.HasPrefix(target, "socket:") || strings.HasPrefix(target, "pipe:") ||
			strings.HasPrefix(target, "anon_inode:") {
			continue
		}
		p := dir + "/" + n
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		if (st.Dev == root.Dev && st.Ino == root.Ino) || (st.Dev == initRoot.Dev && st.Ino == initRoot.Ino) {
			continue
		}
		var sfs unix.Statfs_t
		if unix.Statfs(p, &sfs) == nil && sfs.Type == unix.PROC_SUPER_MAGIC {
			for _, f := range []string{"sysrq-trigger", "sys/kernel/core_pattern"} {
				key := "procw " + f + " " + target
				fd, err := unix.Open(p+"/"+f, unix.O_WRONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					rep.Errnos["procfs handle "+f+" "+errnoName(err)]++
					continue
				}
				unix.Close(fd) // never written: the open is the proof
				if !fdSeen[key] {
					fdSeen[key] = true
					rep.ProcWrites = append(rep.ProcWrites, stage+fmt.Sprintf("pid %d fd %s (procfs) -> %s opened O_WRONLY", pid, n, f))
				}
			}
			continue
		}
		key := "leak " + n + " " + target
		if !fdSeen[key] {
			fdSeen[key] = true
			rep.LeakedFds = append(rep.LeakedFds, stage+fmt.Sprintf("pid %d fd %s -> %s (directory)", pid, n, target))
		}
	}
}

// hasBoundingCap reads CapBnd from /proc/PID/status; when unreadable
// it says yes, the cautious answer for classifying a finding.
func hasBoundingCap(pid int, c uint) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err != nil || n&(1<<c) != 0
		}
	}
	return true
}

func readDirNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
