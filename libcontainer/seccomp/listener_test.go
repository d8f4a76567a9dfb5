package seccomp

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestSendListenerMessage checks the wire format on its own, with a pipe
// standing in for the notify fd, at a path too long for sockaddr_un.
func TestSendListenerMessage(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(long, "agent.sock")
	if len(sock) < sunPathMax {
		t.Fatalf("path %q is not long enough for the test", sock)
	}
	// Listen through the directory fd too.
	dfd, err := unix.Open(long, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/agent.sock", Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()

	type got struct {
		msg []byte
		fds []int
		err error
	}
	ch := make(chan got, 1)
	go func() {
		var g got
		defer func() { ch <- g }()
		conn, err := ln.AcceptUnix()
		if err != nil {
			g.err = err
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 1<<16), make([]byte, unix.CmsgSpace(4*4))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			g.err = err
			return
		}
		g.msg = buf[:n]
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for i := range msgs {
			fds, _ := unix.ParseUnixRights(&msgs[i])
			g.fds = append(g.fds, fds...)
		}
		// The runtime closes the connection after one state.
		if n, _ := conn.Read(buf); n != 0 {
			g.err = os.ErrInvalid
		}
	}()

	st := specs.ContainerProcessState{Pid: 4242, Metadata: "m", Fds: []string{"ignored", "too"},
		State: specs.State{ID: "c1", Status: specs.StateCreated, Bundle: "/b"}}
	if err := SendListener(sock, int(w.Fd()), st); err != nil {
		t.Fatal(err)
	}
	g := <-ch
	if g.err != nil {
		t.Fatal(g.err)
	}
	var back specs.ContainerProcessState
	if err := json.Unmarshal(g.msg, &back); err != nil {
		t.Fatal(err)
	}
	if back.Version != specs.Version || back.Pid != 4242 || back.Metadata != "m" || back.State.ID != "c1" ||
		len(back.Fds) != 1 || back.Fds[0] != "seccompFd" {
		t.Errorf("state = %+v", back)
	}
	if len(g.fds) != 1 {
		t.Fatalf("got %d fds", len(g.fds))
	}
	defer unix.Close(g.fds[0])
	var a, b unix.Stat_t
	unix.Fstat(g.fds[0], &a)
	unix.Fstat(int(w.Fd()), &b)
	if a.Ino != b.Ino || a.Dev != b.Dev {
		t.Error("the fd received is not the one sent")
	}
}

func TestSendListenerNoAgent(t *testing.T) {
	err := SendListener(filepath.Join(t.TempDir(), "none.sock"), 0, specs.ContainerProcessState{})
	if err == nil || !strings.Contains(err.Error(), "none.sock") {
		t.Fatalf("error = %v", err)
	}
}
