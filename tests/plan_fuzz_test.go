package tests

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/initplan"
)

// The C stage parses what the parent sends; runc's parser of the same
// kind once misread lengths (CVE-2021-43784). These tests feed skiff's
// init mangled plans and require that it never dies of a signal (a
// crash, a FORTIFY abort), only refuses.
//
// Each input runs in a throwaway sandbox: a new user namespace (so
// nothing it writes in /proc/sys or mounts can touch the host), mount,
// pid, net, ipc and uts namespaces, chrooted into a directory holding
// only a copy of the static skiff binary.

func fuzzCorpus(t testing.TB) [][]byte {
	cfg := &configs.Config{
		Rootfs:     "/rootfs",
		Hostname:   "fuzz",
		Namespaces: []configs.Namespace{{Type: configs.NEWNS}, {Type: configs.NEWUTS}, {Type: configs.NEWPID}},
		Mounts: []configs.Mount{
			{Source: "proc", Destination: "/proc", Type: "proc"},
			{Source: "tmpfs", Destination: "/dev", Type: "tmpfs", Data: "mode=755,size=64k"},
			{Source: "/src", Destination: "/mnt", Bind: true},
		},
		MaskedPaths:   []string{"/proc/asound"},
		ReadonlyPaths: []string{"/proc/sys"},
		Process: configs.Process{
			Args: []string{"/bin/sh", "-c", "true"}, Env: []string{"PATH=/bin"}, Cwd: "/",
			Rlimits:      []configs.Rlimit{{Type: unix.RLIMIT_NOFILE, Soft: 1024, Hard: 1024}},
			Capabilities: &configs.Capabilities{Bounding: []string{"CAP_KILL"}},
		},
	}
	res, err := initplan.Build(cfg, initplan.Options{
		FifoFd: 3, SockFd: 4, LastCap: 40, CapByName: map[string]uint32{"CAP_KILL": 5}, HostBounding: ^uint64(0),
		Seccomp: &initplan.SeccompFilter{Filter: make([]byte, 8*4)},
	})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := initplan.Encode(res.Plan)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{plan}
}

// mutate changes a valid plan the ways a length bug would: bytes flipped,
// lengths and counts set to edges, the buffer cut or grown.
func mutate(r *rand.Rand, plan []byte) []byte {
	b := append([]byte(nil), plan...)
	for n := 1 + r.Intn(4); n > 0; n-- {
		switch r.Intn(5) {
		case 0: // a random byte
			b[r.Intn(len(b))] = byte(r.Intn(256))
		case 1: // an aligned u32 set to an edge value
			if len(b) >= 4 {
				at := r.Intn(len(b)/4) * 4
				edges := []uint32{0, 1, 0x7fffffff, 0x80000000, 0xffffffff, uint32(len(b)), uint32(len(b) - at)}
				binary.NativeEndian.PutUint32(b[at:], edges[r.Intn(len(edges))])
			}
		case 2: // cut
			b = b[:r.Intn(len(b)+1)]
		case 3: // grow with junk
			junk := make([]byte, r.Intn(64))
			r.Read(junk)
			b = append(b, junk...)
		case 4: // a NUL inside a string, or a missing one
			b[r.Intn(len(b))] = 0
		}
		if len(b) == 0 {
			b = []byte{0}
		}
	}
	return b
}

type planSandbox struct {
	dir string
}

func newPlanSandbox(t testing.TB) *planSandbox {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	dir := t.TempDir()
	data, err := os.ReadFile(runtimeBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "skiff"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"rootfs", "src"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &planSandbox{dir: dir}
}

// feed runs `skiff init 3` in the sandbox with payload as its bootstrap
// frame and reports how it ended.
func (s *planSandbox) feed(t testing.TB, payload []byte, frameLen uint32) *os.ProcessState {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent := os.NewFile(uintptr(fds[0]), "parent")
	child := os.NewFile(uintptr(fds[1]), "child")
	defer parent.Close()
	// No pid namespace here: the plan makes one, so the init gets far
	// (mounts, pivot_root, masks) before the sandbox stops it.
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--mount", "--propagation", "private",
		"--net", "--ipc", "--uts", "--root", s.dir, "/skiff", "init", "3")
	cmd.ExtraFiles = []*os.File{child}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := startTracked(cmd); err != nil {
		child.Close()
		t.Fatal(err)
	}
	child.Close()
	hdr := make([]byte, 8)
	binary.NativeEndian.PutUint32(hdr, initplan.MsgBootstrap)
	binary.NativeEndian.PutUint32(hdr[4:], frameLen)
	_, _ = parent.Write(append(hdr, payload...))
	// Answer nothing: a request for an ack gets EOF and the init exits.
	_ = unix.Shutdown(int(parent.Fd()), unix.SHUT_WR)
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := parent.Read(buf); err != nil {
				close(done)
				return
			}
		}
	}()
	timer := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	err = waitTracked(cmd)
	timer.Stop()
	<-done
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run the sandbox: %v\n%s", err, stderr.String())
	}
	return cmd.ProcessState
}

// checkNoCrash looks at stage 1's status and at every process the init
// forked (its parent is this test binary: CLONE_PARENT), which the
// reaper collected by the time the socket closed.
func checkNoCrash(t testing.TB, st *os.ProcessState, input []byte) {
	statuses := []syscall.WaitStatus{}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok {
		statuses = append(statuses, ws)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		reapOnce()
		zombies := false
		for _, p := range children() {
			if p.state == 'Z' {
				zombies = true
			}
		}
		if !zombies || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	reaper.mu.Lock()
	for pid, ws := range reaper.exited {
		statuses = append(statuses, syscall.WaitStatus(ws))
		delete(reaper.exited, pid)
	}
	reaper.mu.Unlock()
	for _, ws := range statuses {
		if !ws.Signaled() {
			continue
		}
		switch ws.Signal() {
		case syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGILL, syscall.SIGABRT, syscall.SIGFPE, syscall.SIGSYS:
			t.Fatalf("skiff init died of %v on a mangled plan (%d bytes): %x", ws.Signal(), len(input), input)
		}
	}
}

func TestInitPlanMangled(t *testing.T) {
	s := newPlanSandbox(t)
	corpus := fuzzCorpus(t)
	r := rand.New(rand.NewSource(20261130))
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	// The valid plan itself must be refused only for what the sandbox
	// lacks (no /rootfs), never crash.
	checkNoCrash(t, s.feed(t, corpus[0], uint32(len(corpus[0]))), corpus[0])
	for i := 0; i < rounds; i++ {
		in := mutate(r, corpus[r.Intn(len(corpus))])
		frameLen := uint32(len(in))
		if r.Intn(10) == 0 {
			// A header that lies about the length.
			frameLen = []uint32{0, 11, 12, uint32(len(in)) + 1, 0xffffffff, 16 << 20}[r.Intn(6)]
		}
		checkNoCrash(t, s.feed(t, in, frameLen), in)
	}
}

// FuzzInitPlan is the same check driven by go test -fuzz, for longer runs:
//
//	go test -run x -fuzz FuzzInitPlan ./tests/
func FuzzInitPlan(f *testing.F) {
	for _, c := range fuzzCorpus(f) {
		f.Add(c)
	}
	s := newPlanSandbox(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		checkNoCrash(t, s.feed(t, in, uint32(len(in))), in)
	})
}
