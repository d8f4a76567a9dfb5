package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const pageProfileDir = "/run/skiff-cache/pages"

// The first foreground run of a binary records which pages of it the run
// touched; later runs map them in one go instead of a page fault each
// (libcontainer/nsenter/pageprofile.c). A fresh copy of skiff is a binary
// with no profile yet.
func TestRunPageProfile(t *testing.T) {
	if !runtimeIsSkiff() {
		t.Skip("skiff's own mappings")
	}
	requireAsyncWriteProtect(t)
	bin, profile := freshBinary(t, "run")

	c := newCtr(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
	// Page faults taken by the run and by what it started (not the
	// pages MADV_POPULATE_READ mapped, which rusage would count too).
	runOnce := func(what string) int64 {
		t.Helper()
		var out []byte
		faults := userPageFaults(t, func() error {
			var err error
			out, err = exec.Command(bin, "--root", c.Root, "run", "--bundle", c.Bundle, c.ID).CombinedOutput()
			return err
		})
		if faults < 0 {
			t.Fatalf("%s: %s", what, out)
		}
		return faults
	}
	profileMode := func(what string) os.FileMode { return profileMode(t, profile, what) }

	learning := runOnce("first run")
	if m := profileMode("after the first run"); m != 0o600 {
		t.Errorf("profile %s has mode %v, want -rw-------", profile, m)
	}
	profiled := runOnce("second run")
	t.Logf("page faults: %d learning, %d with the profile", learning, profiled)
	if profiled*4 > learning*3 {
		t.Errorf("a run with the profile made %d page faults, the run that learnt it %d: want a quarter fewer at least", profiled, learning)
	}

	// A profile that others could have written is not used but learnt
	// again, and then written afresh.
	if err := os.Chmod(profile, 0o620); err != nil {
		t.Fatal(err)
	}
	relearning := runOnce("run with a group-writable profile")
	if m := profileMode("after the run with a group-writable profile"); m != 0o600 {
		t.Errorf("the group-writable profile was kept (mode %v): want it learnt again", m)
	}
	if relearning*4 < learning*3 {
		t.Errorf("the run with a group-writable profile made %d page faults, a learning run %d: was the profile used?", relearning, learning)
	}
	c.checkGone("after the runs")
}

// The commands that end within milliseconds keep the kernel's
// fault-around, but have page profiles too: the first `list` of a binary
// maps it a page at a time and records the pages it read; later ones map
// those in one go, before the Go runtime starts.
func TestQuickCommandPageProfile(t *testing.T) {
	if !runtimeIsSkiff() {
		t.Skip("skiff's own mappings")
	}
	requireAsyncWriteProtect(t)
	bin, profile := freshBinary(t, "list")
	root := t.TempDir()
	listOnce := func(what string) int64 {
		t.Helper()
		var out []byte
		faults := userPageFaults(t, func() error {
			var err error
			out, err = exec.Command(bin, "--root", root, "list").CombinedOutput()
			return err
		})
		if faults < 0 {
			t.Fatalf("%s: %s", what, out)
		}
		return faults
	}
	learning := listOnce("first list")
	if m := profileMode(t, profile, "after the first list"); m != 0o600 {
		t.Errorf("profile %s has mode %v, want -rw-------", profile, m)
	}
	profiled := listOnce("second list")
	t.Logf("page faults: %d learning, %d with the profile", learning, profiled)
	if profiled*2 > learning {
		t.Errorf("a list with the profile made %d page faults, the list that learnt it %d: want half at most", profiled, learning)
	}
}

// freshBinary copies skiff to a binary no command has run yet and
// returns it and the path of its page profile for cmd, removed at the
// end of the test.
func freshBinary(t *testing.T, cmd string) (bin, profile string) {
	t.Helper()
	bin = filepath.Join(t.TempDir(), "skiff")
	if err := copyFile(runtimeBin, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(bin, &st); err != nil {
		t.Fatal(err)
	}
	profile = filepath.Join(pageProfileDir, fmt.Sprintf("%x-%x-%x-%x.%d.%s", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, cmd))
	t.Cleanup(func() { os.Remove(profile) })
	return bin, profile
}

func profileMode(t *testing.T, profile, what string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(profile)
	if err != nil {
		t.Fatalf("%s: no profile: %v", what, err)
	}
	return fi.Mode()
}

// userPageFaults counts the page faults that the processes fn starts take
// (the kernel's software event, inherited by children), or returns -1 if
// fn fails. The thread that starts them is the one counted, so it is
// locked for the time.
func userPageFaults(t *testing.T, fn func() error) int64 {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_PAGE_FAULTS,
		Bits:   unix.PerfBitDisabled | unix.PerfBitInherit,
	}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		t.Skipf("perf_event_open: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
		t.Fatal(err)
	}
	if err := fn(); err != nil {
		t.Log(err)
		return -1
	}
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_DISABLE, 0); err != nil {
		t.Fatal(err)
	}
	var buf [8]byte
	if n, err := unix.Read(fd, buf[:]); err != nil || n != 8 {
		t.Fatalf("read the page-fault counter: %d bytes, %v", n, err)
	}
	return int64(*(*uint64)(unsafe.Pointer(&buf[0])))
}
