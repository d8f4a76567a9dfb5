package libcontainer

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// child is a process skiff started with syscall.ForkExec, with the pidfd
// the kernel gave at clone time. os.StartProcess (os/exec) would do the
// same, but its first use in a process probes CLONE_PIDFD by cloning
// and reaping a throwaway child: ~0.5 ms on the path of every create
// and exec.
type child struct {
	pid   int
	pidfd int // -1 when the kernel gave none
}

// wait reaps the process, once; an error says how it ended when that was
// not exit status 0, in os/exec's words.
func (c *child) wait() error {
	if c.pid <= 0 {
		return errors.New("process already reaped")
	}
	var ws unix.WaitStatus
	var err error
	for {
		_, err = unix.Wait4(c.pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	c.pid = 0
	if c.pidfd >= 0 {
		unix.Close(c.pidfd)
		c.pidfd = -1
	}
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	return exitError(ws)
}

// release forgets a process that is not skiff's to reap here (an init
// that runs on after `create`), closing its pidfd.
func (c *child) release() {
	if c.pidfd >= 0 {
		unix.Close(c.pidfd)
		c.pidfd = -1
	}
	c.pid = 0
}

// kill sends SIGKILL through the pidfd, so a pid reused after the
// process was reaped elsewhere is never hit.
func (c *child) kill() {
	if c.pidfd >= 0 {
		_ = unix.PidfdSendSignal(c.pidfd, unix.SIGKILL, nil, 0)
	} else if c.pid > 0 {
		_ = unix.Kill(c.pid, unix.SIGKILL)
	}
}

// exitError describes a wait status as os/exec's ExitError does
// ("exit status 1", "signal: killed"); nil for exit status 0.
func exitError(ws unix.WaitStatus) error {
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return nil
	case ws.Exited():
		return fmt.Errorf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		msg := "signal: " + ws.Signal().String()
		if ws.CoreDump() {
			msg += " (core dumped)"
		}
		return errors.New(msg)
	}
	return fmt.Errorf("wait status %#x", uint32(ws))
}
