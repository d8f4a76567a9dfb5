package tests

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// userfaultfd(2) and UFFDIO_API, which x/sys/unix does not define.
const (
	uffdUserModeOnly   = 1
	uffdAPI            = 0xaa
	uffdioAPI          = 0xc018aa3f // _IOWR(0xaa, 0x3f, struct uffdio_api)
	uffdFeatureWPAsync = 1 << 15
)

// requireAsyncWriteProtect skips unless this kernel lets a process
// track write-protection of its memory asynchronously (Linux 6.7), what
// skiff registers its own binary with (libcontainer/nsenter/faultaround.c).
func requireAsyncWriteProtect(t *testing.T) {
	t.Helper()
	fd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|uffdUserModeOnly, 0, 0)
	if errno != 0 {
		t.Skipf("userfaultfd: %v", errno)
	}
	defer unix.Close(int(fd))
	api := struct{ api, features, ioctls uint64 }{api: uffdAPI, features: uffdFeatureWPAsync}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, uffdioAPI, uintptr(unsafe.Pointer(&api))); errno != 0 {
		t.Skipf("userfaultfd without asynchronous write-protect: %v", errno)
	}
}

// binaryMapping is what /proc/PID/smaps says of the read-only mappings
// of a process's executable, summed.
type binaryMapping struct {
	sizeKB, rssKB         int
	textSizeKB, textRssKB int        // of the executable mapping alone
	flags                 [][]string // VmFlags of each mapping
}

func readOnlyBinaryMappings(t *testing.T, pid int) binaryMapping {
	t.Helper()
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var m binaryMapping
	in, text := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") {
			// A mapping's header: address perms offset dev inode path.
			in = len(fields) == 6 && fields[5] == exe && !strings.Contains(fields[1], "w")
			text = in && strings.Contains(fields[1], "x")
			continue
		}
		if !in {
			continue
		}
		switch fields[0] {
		case "Size:":
			n, _ := strconv.Atoi(fields[1])
			m.sizeKB += n
			if text {
				m.textSizeKB += n
			}
		case "Rss:":
			n, _ := strconv.Atoi(fields[1])
			m.rssKB += n
			if text {
				m.textRssKB += n
			}
		case "VmFlags:":
			m.flags = append(m.flags, fields[1:])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(m.flags) == 0 {
		t.Fatalf("no read-only mapping of %s in /proc/%d/smaps", exe, pid)
	}
	return m
}

// A foreground `skiff run` lives as long as its container, so it maps
// its own binary a page at a time, as it touches it, not 64 KiB around
// each touch: its read-only mappings carry the userfaultfd write-protect
// flag ("uw") that turns the kernel's fault-around off, and less than
// 70 % of them is resident (with fault-around, ~85 %). Once started, it
// drops the pages of its text that only the Go runtime's start-up
// needed: less than half of its text is resident (~40 %; without the
// drop ~57 %, with fault-around ~90 %). A foreground
// `exec`, like every command that exits within milliseconds, keeps the
// kernel's default: a fault per page costs more CPU than it saves there.
func TestRunMapsItsBinaryPageByPage(t *testing.T) {
	if !runtimeIsSkiff() {
		t.Skip("skiff's own mappings")
	}
	requireAsyncWriteProtect(t)
	c := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", slackPrinter} })
	run, runOut, cancelRun := startForeground(t, c, t.TempDir(), "run", "--bundle", c.Bundle, c.ID)
	defer cancelRun()
	waitOutput(t, runOut, "ready")
	m := readOnlyBinaryMappings(t, run.Process.Pid)
	t.Logf("resident: %d of %d KiB of text, %d of %d KiB read-only in all", m.textRssKB, m.textSizeKB, m.rssKB, m.sizeKB)
	for _, flags := range m.flags {
		if !slices.Contains(flags, "uw") {
			t.Errorf("a read-only mapping of skiff run's binary has VmFlags %q, want uw among them", flags)
		}
	}
	if m.rssKB*100 >= m.sizeKB*70 {
		t.Errorf("skiff run has %d of the %d KiB of its binary's read-only mappings resident, want under 70 %%", m.rssKB, m.sizeKB)
	}
	if m.textRssKB*100 >= m.textSizeKB*50 {
		t.Errorf("skiff run has %d of the %d KiB of its text resident, want under half", m.textRssKB, m.textSizeKB)
	}

	execCmd, execOut, cancelExec := startForeground(t, c, t.TempDir(), "exec", c.ID, "sh", "-c", slackPrinter)
	defer cancelExec()
	waitOutput(t, execOut, "ready")
	for _, flags := range readOnlyBinaryMappings(t, execCmd.Process.Pid).flags {
		if slices.Contains(flags, "uw") {
			t.Errorf("a mapping of skiff exec's binary has VmFlags %q: exec should keep the kernel's fault-around", flags)
		}
	}
	terminate(t, execCmd, execOut)
	terminate(t, run, runOut)
	c.checkGone("after run")
}

// With fd 0 closed by its caller, skiff gets /dev/null there (the Go
// runtime opens it), and the container's stdin is that /dev/null: never
// an fd skiff opened for itself before, such as its userfaultfd.
func TestRunWithStdinClosed(t *testing.T) {
	c := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{"/probe", "json"} })
	res := c.runWith(runOpts{wrapper: []string{"/bin/sh", "-c", `exec "$@" <&-`, "sh"}}, "run", "--bundle", c.Bundle, c.ID)
	if res.Code != 0 {
		t.Fatalf("%s", res)
	}
	f := parseFacts(t, res)
	checkFDs(t, f, 3)
	if len(f.Fds) > 0 && f.Fds[0].Target != "/dev/null" {
		t.Errorf("the container's fd 0 is %q, want /dev/null", f.Fds[0].Target)
	}
}
