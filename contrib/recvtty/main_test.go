package main

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// receiveFd keeps the first fd of the message with the sender's name for
// it, and closes any other fd rather than leak it.
func TestReceiveFd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
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
	client, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, _, err := client.WriteMsgUnix([]byte("/dev/pts/ptmx"), unix.UnixRights(int(w.Fd()), int(r.Fd())), nil); err != nil {
		t.Fatal(err)
	}
	before := openFds(t)
	conn, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	f, err := receiveFd(conn)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Name() != "/dev/pts/ptmx" {
		t.Errorf("name %q, want the sender's /dev/pts/ptmx", f.Name())
	}
	if _, err := f.Write([]byte("x")); err != nil {
		t.Errorf("the fd kept is not the first one sent (the pipe's write end): %v", err)
	}
	if after := openFds(t); after != before+1 {
		t.Errorf("%d fds open before, %d after: want exactly one more", before, after)
	}
}

func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
