package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/contrib/probe/facts"
)

var nsNames = []string{
	"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
	"time", "time_for_children", "user", "uts",
}

var rlimitNames = map[int]string{
	unix.RLIMIT_CPU: "RLIMIT_CPU", unix.RLIMIT_FSIZE: "RLIMIT_FSIZE",
	unix.RLIMIT_DATA: "RLIMIT_DATA", unix.RLIMIT_STACK: "RLIMIT_STACK",
	unix.RLIMIT_CORE: "RLIMIT_CORE", unix.RLIMIT_RSS: "RLIMIT_RSS",
	unix.RLIMIT_NPROC: "RLIMIT_NPROC", unix.RLIMIT_NOFILE: "RLIMIT_NOFILE",
	unix.RLIMIT_MEMLOCK: "RLIMIT_MEMLOCK", unix.RLIMIT_AS: "RLIMIT_AS",
	unix.RLIMIT_LOCKS: "RLIMIT_LOCKS", unix.RLIMIT_SIGPENDING: "RLIMIT_SIGPENDING",
	unix.RLIMIT_MSGQUEUE: "RLIMIT_MSGQUEUE", unix.RLIMIT_NICE: "RLIMIT_NICE",
	unix.RLIMIT_RTPRIO: "RLIMIT_RTPRIO", unix.RLIMIT_RTTIME: "RLIMIT_RTTIME",
}

func collect() *facts.Facts {
	// The descriptor list goes first, before anything else could open
	// a file and leave it open by mistake.
	f := &facts.Facts{}
	f.Fds = listFDs(f)
	f.Pid, f.Ppid = os.Getpid(), os.Getppid()
	f.UID, f.GID, f.EUID, f.EGID = unix.Getuid(), unix.Getgid(), unix.Geteuid(), unix.Getegid()
	f.Groups, _ = unix.Getgroups()
	if f.Groups == nil {
		f.Groups = []int{}
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		f.Hostname = unix.ByteSliceToString(uts.Nodename[:])
		f.Domainname = unix.ByteSliceToString(uts.Domainname[:])
	}
	f.Cwd, _ = os.Getwd()
	old := unix.Umask(0)
	unix.Umask(old)
	f.Umask = fmt.Sprintf("%04o", old)
	f.Namespaces = map[string]string{}
	for _, n := range nsNames {
		if target, err := os.Readlink("/proc/self/ns/" + n); err == nil {
			f.Namespaces[n] = target
		}
	}
	readStatus(f)
	f.Rlimits = map[string]facts.Rlimit{}
	for res, name := range rlimitNames {
		var rl unix.Rlimit
		if err := unix.Getrlimit(res, &rl); err == nil {
			f.Rlimits[name] = facts.Rlimit{Soft: rl.Cur, Hard: rl.Max}
		}
	}
	f.Mounts = readMountinfo(f)
	if b, err := readFile("/proc/self/oom_score_adj"); err == nil {
		f.OOMScoreAdj, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	} else {
		f.Errors = append(f.Errors, err.Error())
	}
	if desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, unix.KEY_SPEC_SESSION_KEYRING); err == nil {
		f.SessionKeyring = desc
	} else {
		f.Errors = append(f.Errors, "session keyring: "+err.Error())
	}
	if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err == nil {
		f.Dumpable = d
	}
	f.Env = os.Environ()
	f.Args = os.Args
	if names, err := readDirNames("/dev"); err == nil {
		sort.Strings(names)
		for _, n := range names {
			f.Dev = append(f.Dev, lstat("/dev/"+n))
		}
	} else {
		f.Errors = append(f.Errors, err.Error())
	}
	return f
}

func listFDs(f *facts.Facts) []facts.FD {
	dir, err := openRaw("/proc/self/fd", unix.O_DIRECTORY)
	if err != nil {
		f.Errors = append(f.Errors, err.Error())
		return nil
	}
	defer dir.Close()
	self := int(dir.Fd())
	names, err := dir.Readdirnames(-1)
	if err != nil {
		f.Errors = append(f.Errors, err.Error())
	}
	fds := []facts.FD{}
	for _, name := range names {
		n, err := strconv.Atoi(name)
		if err != nil || n == self {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + name)
		fds = append(fds, facts.FD{FD: n, Target: target})
	}
	sort.Slice(fds, func(i, j int) bool { return fds[i].FD < fds[j].FD })
	return fds
}

func readStatus(f *facts.Facts) {
	b, err := readFile("/proc/self/status")
	if err != nil {
		f.Errors = append(f.Errors, err.Error())
		return
	}
	f.Caps = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb":
			f.Caps[key] = val
		case "NoNewPrivs":
			f.NoNewPrivs, _ = strconv.Atoi(val)
		case "Seccomp":
			f.Seccomp, _ = strconv.Atoi(val)
		}
	}
}

func readMountinfo(f *facts.Facts) []facts.Mount {
	b, err := readFile("/proc/self/mountinfo")
	if err != nil {
		f.Errors = append(f.Errors, err.Error())
		return nil
	}
	mounts, errs := facts.ParseMountinfo(b)
	for _, err := range errs {
		f.Errors = append(f.Errors, err.Error())
	}
	return mounts
}
