package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/signals"
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
// process: the init is blocked opening exec.fifo for writing, and
// writes one byte once a reader opens it.
//
// Start takes the container's lock itself, and does not hold it while
// waiting for the init, so that `skiff kill` and `skiff delete -f` can
// still deal with an init that never gets there.
func Start(root string, st *state.State) error {
	if hooks := st.Config.Hooks; hooks != nil && len(hooks.StartContainer) > 0 {
		if st.Status(root) != state.Created {
			return errors.New("cannot start a container that is not created")
		}
		s := st.OCIState(state.Created)
		if err := RunHooksInContainer("startContainer", hooks.StartContainer, st.NamespacePaths, s); err != nil {
			return err
		}
	}
	pidfd, fifo, err := openForStart(root, st)
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	defer unix.Close(fifo)

	started, err := awaitFifo(fifo, pidfd)
	if err != nil {
		return err
	}

	unlock, err := state.Lock(root, st.ID)
	if err != nil {
		return err
	}
	defer unlock()
	if !started {
		// Either the init is dying (its fds close before it is reported
		// dead), or another `skiff start` took the byte and the init runs
		// on; a short wait on the pidfd tells which.
		if err := signals.WaitFD(pidfd, exitGrace); err == nil || !st.InitAlive() {
			return errInitDied
		}
		return errStartRunning
	}
	if err := os.Remove(filepath.Join(state.Dir(root, st.ID), state.ExecFifo)); err != nil && !os.IsNotExist(err) {
		return err
	}
	// "running" needs no write: it is an alive init without exec.fifo.
	logs.Debugf("started container %s (init %d)", st.ID, st.InitPID)
	if hooks := st.Config.Hooks; hooks != nil {
		// runtime-spec: a failed poststart hook is a warning.
		if err := RunHooks("poststart", hooks.Poststart, st.OCIState(state.Running)); err != nil {
			logs.Warnf("%v", err)
		}
	}
	return nil
}

// openForStart checks, under the lock, that the container is created,
// and opens a pidfd of its init and the read end of exec.fifo.
func openForStart(root string, st *state.State) (pidfd, fifo int, err error) {
	unlock, err := state.Lock(root, st.ID)
	if err != nil {
		return -1, -1, err
	}
	defer unlock()
	switch status := st.Status(root); status {
	case state.Created:
	case state.Stopped:
		return -1, -1, errStartStopped
	case state.Running:
		return -1, -1, errStartRunning
	default:
		return -1, -1, fmt.Errorf("cannot start a container in the %s state", status)
	}
	pidfd, err = openInit(st)
	if err == ErrNotRunning {
		return -1, -1, errStartStopped
	}
	if err != nil {
		return -1, -1, err
	}
	// Non-blocking, so that opening does not wait for the writer; the
	// open alone is what lets the init's own open return.
	path := filepath.Join(state.Dir(root, st.ID), state.ExecFifo)
	fifo, err = unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(pidfd)
		if err == unix.ENOENT {
			return -1, -1, errStartRunning
		}
		return -1, -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return pidfd, fifo, nil
}

// awaitFifo waits until the init has written its byte (true), or closed
// the fifo without writing, or died (false). Linux does not report
// POLLHUP on a fifo whose writer has not opened it yet, so the wait
// covers the init's open too.
func awaitFifo(fifo, pidfd int) (bool, error) {
	fds := []unix.PollFd{
		{Fd: int32(fifo), Events: unix.POLLIN},
		{Fd: int32(pidfd), Events: unix.POLLIN},
	}
	var buf [1]byte
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("wait for container init: %w", err)
		}
		fifoReady := fds[0].Revents != 0
		initDead := fds[1].Revents != 0
		if !fifoReady && !initDead {
			continue
		}
		// Read even if only the init is reported dead: it may have
		// written its byte, exec'd and exited in one go.
		n, err := unix.Read(fifo, buf[:])
		switch {
		case n == 1:
			return true, nil
		case err == unix.EAGAIN || err == unix.EINTR:
			if initDead {
				return false, nil
			}
		case err != nil:
			return false, fmt.Errorf("read exec fifo: %w", err)
		default: // EOF: the write end was closed without a byte
			return false, nil
		}
	}
}
