package libcontainer

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// sendConsole hands the pty master to the engine listening on the
// --console-socket, as runc does: one message whose data is the pty's
// name and whose SCM_RIGHTS carries the fd (containerd's shim and conmon
// read it this way).
func sendConsole(socketPath string, master *os.File) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socketPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	oob := unix.UnixRights(int(master.Fd()))
	if _, _, err := conn.WriteMsgUnix([]byte(master.Name()), oob, nil); err != nil {
		return fmt.Errorf("console socket: send pty master: %w", err)
	}
	return nil
}
