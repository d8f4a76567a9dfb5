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
	count, sizeKB, rssKB int
	// Of the mappings with fault-around off (VmFlags "uw"), and of
	// those of them that are text.
	paged, pagedSizeKB, pagedRssKB  int
	pagedTextSizeKB, pagedTextRssKB int
}

func readOnlyBinaryMappings(t *testing.T, pid int) binaryMapping {
	t.Helper()
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	var m binaryMapping
	for _, mp := range readSmaps(t, pid) {
		h := mp.header
		if len(h) != 6 || h[5] != exe || strings.Contains(h[1], "w") {
			continue
		}
		size, rss := mp.kB("Size:"), mp.kB("Rss:")
		m.count++
		m.sizeKB += size
		m.rssKB += rss
		if slices.Contains(mp.flags, "uw") {
			m.paged++
			m.pagedSizeKB += size
			m.pagedRssKB += rss
			if strings.Contains(h[1], "x") {
				m.pagedTextSizeKB += size
				m.pagedTextRssKB += rss
			}
		}
	}
	if m.count == 0 {
		t.Fatalf("no read-only mapping of %s in /proc/%d/smaps", exe, pid)
	}
	return m
}

// smapsMapping is one mapping's block of /proc/PID/smaps.
type smapsMapping struct {
	// The header's fields: address perms offset dev inode [path].
	header []string
	// The first word after each "Key:" line's key, by key.
	values map[string]string
	flags  []string // VmFlags
}

// kB is the value of a "Key: N kB" line.
func (m smapsMapping) kB(key string) int {
	n, _ := strconv.Atoi(m.values[key])
	return n
}

func readSmaps(t *testing.T, pid int) []smapsMapping {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var all []smapsMapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 0:
		case !strings.HasSuffix(fields[0], ":"):
			all = append(all, smapsMapping{header: fields, values: map[string]string{}})
		case len(all) == 0:
		case fields[0] == "VmFlags:":
			all[len(all)-1].flags = fields[1:]
		case len(fields) > 1:
			all[len(all)-1].values[fields[0]] = fields[1]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return all
}

// A foreground `skiff run` lives as long as its container, so it maps
// most of its own binary a page at a time, as it touches it, not 64 KiB
// around each touch: the read-only mappings that carry the userfaultfd
// write-protect flag ("uw"), which turns the kernel's fault-around off,
// make up most of the binary (the Go runtime's text and the read-only
// data ahead of .gopclntab keep fault-around: start-up touches most of
// them anyway), and less than 60 % of the binary is resident (~38 %;
// with fault-around everywhere, ~85 %). Once started, it drops the pages
// of its text that only the Go runtime's start-up needed: less than 40 %
// of the text it maps page by page is resident (~32 %; without the
// drop, ~52 %). A foreground `exec`, like every command that exits within
// milliseconds, keeps the kernel's default once it has a page profile: a
// fault per page costs more CPU than it saves there (only the first exec
// of a binary maps it page by page, to learn the profile).
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
	t.Logf("resident: %d of %d KiB read-only, %d of the %d KiB mapped page by page, %d of the %d KiB of text among them",
		m.rssKB, m.sizeKB, m.pagedRssKB, m.pagedSizeKB, m.pagedTextRssKB, m.pagedTextSizeKB)
	if m.pagedSizeKB*2 < m.sizeKB {
		t.Errorf("%d of the %d KiB of skiff run's read-only mappings have VmFlags uw, want most", m.pagedSizeKB, m.sizeKB)
	}
	if m.rssKB*100 >= m.sizeKB*60 {
		t.Errorf("skiff run has %d of the %d KiB of its binary's read-only mappings resident, want under 60 %%", m.rssKB, m.sizeKB)
	}
	if m.pagedTextSizeKB == 0 || m.pagedTextRssKB*100 >= m.pagedTextSizeKB*40 {
		t.Errorf("skiff run has %d of the %d KiB of text it maps page by page resident, want under 40 %%", m.pagedTextRssKB, m.pagedTextSizeKB)
	}

	// The first exec of this binary (in this test or before) learnt its
	// page profile.
	if res := c.run("exec", c.ID, "true"); res.Code != 0 {
		t.Fatalf("exec: %s", res)
	}
	execCmd, execOut, cancelExec := startForeground(t, c, t.TempDir(), "exec", c.ID, "sh", "-c", slackPrinter)
	defer cancelExec()
	waitOutput(t, execOut, "ready")
	if m := readOnlyBinaryMappings(t, execCmd.Process.Pid); m.paged != 0 {
		t.Errorf("%d mappings of skiff exec's binary have VmFlags uw: exec should keep the kernel's fault-around", m.paged)
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
