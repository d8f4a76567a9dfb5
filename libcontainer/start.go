package libcontainer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/cgroups"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// runc's texts for starting a container in the wrong state.
var (
	errStartStopped = errors.New("cannot start a container that has stopped")
	errStartRunning = errors.New("cannot start an already running container")
	errInitDied     = errors.New("container process is already dead")
)

// exitGrace is how long an init that closed exec.fifo without writing
// may take to be reported dead.
const exitGrace = 100 * time.Millisecond

// Start lets a created container's init go on to execute the user's
// process. The init holds exec.fifo open for reading and writing and is
// blocked reading it: one byte written here releases it. A fifo nobody
// holds any more (ENXIO) means the init is dead.
func Start(root string, st *state.State) error {
	tr := newTrace("start " + st.ID)
	defer tr.done()
	// Config is nil when loaded without it (state.LoadLite: no hooks).
	if hooks := configHooks(st); hooks != nil && len(hooks.StartContainer) > 0 {
		if st.Status(root) != state.Created {
			return errStartNotCreated(st.Status(root))
		}
		s := st.OCIState(state.Created)
		if err := RunHooksInContainer("startContainer", hooks.StartContainer, st.NamespacePaths, s); err != nil {
			// runtime-spec: generate an error and stop the container.
			if kerr := killInit(st, cgroups.Load(st.CgroupPaths)); kerr != nil {
				logs.Warnf("stop container %s: %v", st.ID, kerr)
			}
			return err
		}
	}
	var notify *net.UnixConn
	if st.NotifySocket != "" {
		var err error
		if notify, err = listenNotify(root, st); err != nil {
			return err
		}
	}
	fifo, err := releaseInit(root, st)
	if err != nil {
		if notify != nil {
			notify.Close()
		}
		return err
	}
	defer unix.Close(fifo)
	tr.mark(fmt.Sprintf("init %d released", st.InitPID))
	if notify != nil {
		// As runc: start returns once the container says READY=1.
		if err := waitReady(notify, st); err != nil {
			return err
		}
	}
	if hooks := configHooks(st); hooks != nil && len(hooks.Poststart) > 0 {
		// runtime-spec: poststart runs after the user's process is
		// executed. The init's end of the fifo is close-on-exec: the
		// write end reports an error once it is gone.
		waitFifoReaderGone(fifo)
		// A failed poststart hook is a warning (see docs/conformance.md).
		RunHooksWarn("poststart", hooks.Poststart, st.OCIState(state.Running))
	}
	return nil
}

func errStartNotCreated(status string) error {
	switch status {
	case state.Stopped:
		return errStartStopped
	case state.Running:
		return errStartRunning
	}
	return fmt.Errorf("cannot start a container in the %s state", status)
}

// releaseInit writes the byte under the lock and removes exec.fifo, so
// the container is "running" from here on. It returns the fifo's write
// end.
func releaseInit(root string, st *state.State) (int, error) {
	unlock, err := state.Lock(root, st.ID)
	if err != nil {
		return -1, err
	}
	defer unlock()
	if status := st.Status(root); status != state.Created {
		return -1, errStartNotCreated(status)
	}
	path := filepath.Join(state.Dir(root, st.ID), state.ExecFifo)
	fifo, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case err == unix.ENXIO:
		return -1, errInitDied
	case err == unix.ENOENT:
		return -1, errStartRunning
	case err != nil:
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if _, err := unix.Write(fifo, []byte{0}); err != nil {
		unix.Close(fifo)
		if err == unix.EPIPE {
			return -1, errInitDied
		}
		return -1, fmt.Errorf("write exec fifo: %w", err)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		unix.Close(fifo)
		return -1, err
	}
	return fifo, nil
}

// waitFifoReaderGone waits until no process holds the fifo's read end.
func waitFifoReaderGone(fifo int) {
	fds := []unix.PollFd{{Fd: int32(fifo), Events: 0}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		return
	}
}

func waitReady(conn *net.UnixConn, st *state.State) error {
	pidfd, err := openInit(st)
	if err != nil {
		conn.Close()
		return nil // already gone: nothing will be ready
	}
	defer unix.Close(pidfd)
	return relayNotify(conn, st.NotifySocket, pidfd)
}
