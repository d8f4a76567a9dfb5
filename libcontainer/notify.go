package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// sd_notify relay, as runc does it: with NOTIFY_SOCKET set, the container
// gets <state dir>/notify bound read-only at /run/notify and
// NOTIFY_SOCKET=/run/notify/notify.sock; `start` listens there and
// passes every message on to the host's NOTIFY_SOCKET until READY=1.
const (
	notifyDirName         = "notify"
	notifySocketName      = "notify.sock"
	notifyDirInContainer  = "/run/notify"
	notifySocketContainer = notifyDirInContainer + "/" + notifySocketName
)

// hostNotifySocket returns the caller's NOTIFY_SOCKET when it is a path
// skiff can relay to.
func hostNotifySocket() string {
	s := os.Getenv("NOTIFY_SOCKET")
	if s == "" || !filepath.IsAbs(s) {
		return ""
	}
	return s
}

// setupNotify makes the directory the container's socket will live in and
// adds its mount and environment to cfg.
func setupNotify(cfg *configs.Config, stateDir string) error {
	dir := filepath.Join(stateDir, notifyDirName)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	cfg.Mounts = append(cfg.Mounts, configs.Mount{
		Source: dir, Destination: notifyDirInContainer, Type: "bind", Bind: true,
		Flags: unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV,
	})
	cfg.Process.Env = append(cfg.Process.Env, "NOTIFY_SOCKET="+notifySocketContainer)
	return nil
}

// listenNotify binds the container's socket; done before the init is
// released, so nothing it sends is lost.
func listenNotify(root string, st *state.State) (*net.UnixConn, error) {
	path := filepath.Join(state.Dir(root, st.ID), notifyDirName, notifySocketName)
	_ = os.Remove(path)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	// The container's user must be able to send.
	if err := os.Chmod(path, 0o777); err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return conn, nil
}

// relayNotify passes the container's messages to the host socket until
// one says READY=1, or the init exits.
func relayNotify(conn *net.UnixConn, host string, pidfd int) error {
	defer conn.Close()
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for {
		var n int
		var readErr error
		waitErr := raw.Read(func(fd uintptr) bool {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
				readErr = err
				return true
			}
			if fds[0].Revents&unix.POLLIN == 0 {
				if fds[1].Revents != 0 {
					readErr = errInitExited
					return true
				}
				return false
			}
			n, _, readErr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			return readErr != unix.EAGAIN
		})
		if waitErr != nil {
			return waitErr
		}
		if readErr == errInitExited {
			return nil
		}
		if readErr != nil {
			return fmt.Errorf("notify socket: %w", readErr)
		}
		msg := buf[:n]
		if err := sendNotify(host, msg); err != nil {
			logs.Warnf("relay %q to %s: %v", msg, host, err)
		}
		for _, line := range bytes.Split(msg, []byte("\n")) {
			if string(line) == "READY=1" {
				return nil
			}
		}
	}
}

var errInitExited = errors.New("init exited")

func sendNotify(host string, msg []byte) error {
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: host, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write(msg)
	return err
}
