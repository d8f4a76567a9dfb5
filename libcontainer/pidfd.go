package libcontainer

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// What the message sent on a --pidfd-socket says, as runc words it: the
// pidfd is of a container's init, or of an exec'd process.
const (
	PidfdInit = "standard"
	PidfdExec = "setns"
)

// PidfdSocket is a connection to the AF_UNIX socket of --pidfd-socket.
// It is dialled before the process is made, so that a wrong path fails
// the command before anything exists, as with runc.
type PidfdSocket struct {
	conn *net.UnixConn
}

// DialPidfdSocket connects to the engine listening at path.
func DialPidfdSocket(path string) (*PidfdSocket, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("--pidfd-socket: %w", err)
	}
	return &PidfdSocket{conn: conn}, nil
}

// Send opens a pidfd of pid and sends it in one message whose data is
// kind (PidfdInit or PidfdExec) and whose SCM_RIGHTS carries the fd,
// the protocol of runc 1.2. pid must be skiff's own unreaped child (or
// a container's init waiting on exec.fifo), so that it cannot have been
// replaced by another process under the same number.
func (s *PidfdSocket) Send(pid int, kind string) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ENOSYS) {
		return errors.New("--pidfd-socket requires >= v5.3 kernel")
	}
	if err != nil {
		return fmt.Errorf("--pidfd-socket: pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	if _, _, err := s.conn.WriteMsgUnix([]byte(kind), unix.UnixRights(pidfd), nil); err != nil {
		return fmt.Errorf("--pidfd-socket: send pidfd: %w", err)
	}
	return nil
}

// Close closes the connection, so the engine reads EOF after the pidfd;
// a nil or closed socket is fine.
func (s *PidfdSocket) Close() {
	if s != nil && s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}
