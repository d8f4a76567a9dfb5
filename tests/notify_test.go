package tests

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NOTIFY_SOCKET: the container gets a socket at /run/notify/notify.sock,
// and `run -d` returns once it has relayed READY=1 to the host's socket,
// as runc does for systemd units and podman --sdnotify=container.
func TestNotifySocket(t *testing.T) {
	requireSetup(t)
	host := filepath.Join(t.TempDir(), "host.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: host, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := newCtr(t, func(s *specs.Spec) {
		s.Process.Args = []string{"/bin/sh", "-c", `echo "$NOTIFY_SOCKET" > /notify-env; /probe notify STATUS=starting; /probe notify READY=1; exec /probe sleep 30`}
		s.Root.Readonly = false
	})
	done := make(chan result, 1)
	go func() {
		done <- c.runWith(runOpts{env: []string{"NOTIFY_SOCKET=" + host}}, "run", "-d", "--bundle", c.Bundle, c.ID)
	}()

	var got []string
	buf := make([]byte, 512)
	for len(got) < 2 {
		l.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := l.Read(buf)
		if err != nil {
			r := <-done
			t.Fatalf("host socket: %v (got %q)\n%s\ncontainer stderr: %s", err, got, r, readString(r.StderrPath))
		}
		got = append(got, string(buf[:n]))
	}
	if got[0] != "STATUS=starting" || got[1] != "READY=1" {
		t.Errorf("relayed %q, want STATUS=starting then READY=1", got)
	}
	select {
	case r := <-done:
		if r.Code != 0 {
			t.Fatalf("run -d: %s", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run -d did not return after READY=1")
	}
	if env := strings.TrimSpace(readString(filepath.Join(c.Bundle, "rootfs", "notify-env"))); env != "/run/notify/notify.sock" {
		t.Errorf("NOTIFY_SOCKET in the container = %q", env)
	}
}
