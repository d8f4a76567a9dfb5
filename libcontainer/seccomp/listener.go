package seccomp

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// listenerTimeout bounds how long an agent that does not read can hold
// up container creation.
const listenerTimeout = 30 * time.Second

// SendListener hands the notify fd of a container's filter to the seccomp
// agent listening on the unix stream socket listenerPath, the way runc
// does, so existing agents work: one connection per fd, carrying the JSON
// of st (fds ["seccompFd"], metadata = listenerMetadata, set by the
// caller) with the fd attached as SCM_RIGHTS to the same sendmsg, then
// closed. notifyFd stays open; the caller closes it.
func SendListener(listenerPath string, notifyFd int, st specs.ContainerProcessState) error {
	st.Fds = []string{specs.SeccompFdName}
	if st.Version == "" {
		st.Version = specs.Version
	}
	msg, err := json.Marshal(&st)
	if err != nil {
		return fmt.Errorf("seccomp agent: encoding the container process state: %w", err)
	}
	conn, err := dialListener(listenerPath)
	if err != nil {
		return fmt.Errorf("seccomp agent: connecting to %s: %w", listenerPath, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(listenerTimeout)); err != nil {
		return fmt.Errorf("seccomp agent %s: %w", listenerPath, err)
	}
	n, _, err := conn.WriteMsgUnix(msg, unix.UnixRights(notifyFd), nil)
	if err == nil && n < len(msg) {
		// A stream socket may take a long message in parts; the spec
		// allows more sendmsg calls as long as the fds came with the first.
		_, err = conn.Write(msg[n:])
	}
	if err != nil {
		return fmt.Errorf("seccomp agent: sending the notify fd to %s: %w", listenerPath, err)
	}
	return nil
}

// sunPathMax is the room for a path in struct sockaddr_un.
const sunPathMax = 108

func dialListener(path string) (*net.UnixConn, error) {
	if len(path) < sunPathMax {
		return net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	}
	// Too long for sockaddr_un: reach it through an fd for its directory.
	dfd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	short := "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + filepath.Base(path)
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: short, Net: "unix"})
}
