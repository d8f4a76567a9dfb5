package libcontainer

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The message is runc's: the kind as data, one pidfd as SCM_RIGHTS, and
// EOF after it once closed.
func TestPidfdSocketSend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := DialPidfdSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := l.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := s.Send(os.Getpid(), PidfdExec); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close() // twice is fine

	buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "setns" {
		t.Errorf("data %q, want setns", buf[:n])
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages %v: %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds %v: %v", fds, err)
	}
	defer unix.Close(fds[0])
	info, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fds[0]))
	if !strings.Contains(string(info), fmt.Sprintf("Pid:\t%d\n", os.Getpid())) {
		t.Errorf("the fd received is not a pidfd of this process:\n%s", info)
	}
	if n, _, _, _, err := conn.ReadMsgUnix(buf, oob); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("after the message: %d bytes, %v; want EOF", n, err)
	}
}

func TestDialPidfdSocketMissing(t *testing.T) {
	_, err := DialPidfdSocket(filepath.Join(t.TempDir(), "none"))
	if err == nil || !strings.Contains(err.Error(), "--pidfd-socket") {
		t.Errorf("dial of a missing socket: %v, want an error naming --pidfd-socket", err)
	}
}
