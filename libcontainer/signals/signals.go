// Package signals parses signal names as `runc kill` does and relays the
// signals a foreground `skiff run` receives to the container's init.
package signals

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/nsenter"
)

// Parse reads a signal given as a number ("9") or a name in any case,
// with or without the SIG prefix ("KILL", "sigkill", "SIGKILL").
// Numbers are not checked: the kernel judges them when signalling.
func Parse(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("unknown signal %q", s)
	}
	return sig, nil
}

// bufferSize is how many signals can wait while the container is being
// created; more would be dropped by the Go runtime.
const bufferSize = 2048

// Forwarder catches the signals skiff receives so that they reach the
// container's init instead of killing skiff.
type Forwarder struct {
	ch    chan os.Signal
	ready chan struct{}
	// caughtFd is the pipe the C handler writes caught signals to (-1:
	// os/signal catches them, SIGCHLD included).
	caughtFd int
	// OnWinch, if set, is called for SIGWINCH instead of forwarding it:
	// with a terminal, the size is copied to the container's console,
	// whose kernel then signals the foreground process group itself.
	OnWinch func()
}

// Notify starts catching every signal. Call it before creating the
// container: signals that arrive meanwhile are queued and delivered by
// Forward. When skiff's start-up already blocked the relayed signals
// (a foreground run or exec, see libcontainer/nsenter/signals.c), they
// are read from a signalfd. Otherwise os/signal catches them; its
// registering some 65 handlers costs a hand-off with the Go runtime's
// signal thread each, so it happens in the background while the
// container is made, and Forward waits for it.
func Notify() *Forwarder {
	f := &Forwarder{ch: make(chan os.Signal, bufferSize), ready: make(chan struct{}), caughtFd: -1}
	if blocked, unblocked, ok := startupBlocked(); ok {
		if err := f.readSignalFD(blocked); err == nil {
			// SIGCHLD only where ReapOrphans asks for it: the init's
			// exit is seen on its pidfd.
			unblocked = slices.DeleteFunc(unblocked, func(s os.Signal) bool { return s == unix.SIGCHLD })
			if err := f.catchUnblocked(unblocked); err != nil {
				logs.Debugf("catch %v: %v; using os/signal", unblocked, err)
				signal.Notify(f.ch, append(unblocked, unix.SIGCHLD)...)
			}
			close(f.ready)
			return f
		}
		// os/signal still works: it unblocks what it catches on a
		// thread of its own.
	}
	go func() {
		signal.Notify(f.ch)
		close(f.ready)
	}()
	return f
}

// ErrNotChild is returned by Forward when the init exited but was not
// skiff's child, so its exit status cannot be known.
var ErrNotChild = errors.New("the container's init exited, but its exit status is unknown: it was not a child of skiff (is --no-subreaper set?)")

// ReapOrphans makes Forward reap, besides the init, whatever else ends
// up as skiff's child meanwhile: the orphans of a container that has no
// pid namespace of its own, for which a foreground `run` is the
// subreaper. It catches SIGCHLD for that; without it, the init's exit
// is seen on its pidfd alone, and SIGCHLD costs skiff nothing.
func (f *Forwarder) ReapOrphans() {
	if f.caughtFd < 0 {
		return // os/signal catches every signal
	}
	if err := nsenter.CatchSignals(f.caughtFd, []syscall.Signal{unix.SIGCHLD}); err != nil {
		logs.Debugf("catch SIGCHLD: %v; using os/signal", err)
		signal.Notify(f.ch, unix.SIGCHLD)
	}
	// Orphans that ended before the handler was in place.
	f.ch <- unix.SIGCHLD
}

// Forward relays signals to the init process pid, known by pidfd,
// until it exits, reaping any other process that ends up as skiff's
// child meanwhile where ReapOrphans asked for it. It returns the init's
// exit status as a shell reports it: the exit code, or 128+signal if a
// signal killed it.
func (f *Forwarder) Forward(pid, pidfd int) (int, error) {
	<-f.ready
	exited := make(chan error, 1)
	go func() { exited <- WaitFD(pidfd, -1) }()
	for {
		select {
		case err := <-exited:
			if err != nil {
				return -1, err
			}
			return waitInit(pid)
		case s := <-f.ch:
			sig, ok := s.(unix.Signal)
			if !ok {
				continue
			}
			switch sig {
			case unix.SIGCHLD:
				if status, ok := reap(pid); ok {
					return status, nil
				}
			case unix.SIGURG:
				// The Go runtime preempts goroutines with SIGURG; it is
				// not meant for the container.
			case unix.SIGWINCH:
				if f.OnWinch != nil {
					f.OnWinch()
				}
			default:
				logs.Debugf("forwarding signal %d (%v) to init %d", int(sig), sig, pid)
				if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil && err != unix.ESRCH {
					logs.Warnf("forward signal %v to init %d: %v", sig, pid, err)
				}
			}
		}
	}
}

// ErrTimeout is returned by WaitFD when the process outlived the timeout.
var ErrTimeout = errors.New("timed out waiting for the process to exit")

// WaitFD blocks until the process behind pidfd has exited, or timeout
// has passed (a negative timeout waits for ever). It works for any
// process, child of skiff or not. The wait goes through the Go
// runtime's poller on a duplicate of pidfd: the goroutine parks instead
// of holding a thread in poll(2), so the runtime's threads (sysmon
// above all) sleep until the process exits.
func WaitFD(pidfd int, timeout time.Duration) error {
	dup, err := unix.FcntlInt(uintptr(pidfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("dup pidfd: %w", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return fmt.Errorf("pidfd: %w", err)
	}
	f := os.NewFile(uintptr(dup), "pidfd")
	defer f.Close()
	if timeout >= 0 {
		if err := f.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return fmt.Errorf("pidfd: %w", err)
		}
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("pidfd: %w", err)
	}
	var pollErr error
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		switch {
		case err == unix.EINTR:
			return false
		case err != nil:
			pollErr = err
			return true
		}
		return n > 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ErrTimeout
	case err != nil:
		return fmt.Errorf("wait on pidfd: %w", err)
	case pollErr != nil:
		return fmt.Errorf("poll pidfd: %w", pollErr)
	}
	return nil
}

// reap collects every exited child. It reports the init's status if the
// init was among them.
func reap(pid int) (status int, found bool) {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || wpid <= 0 {
			return status, found
		}
		if wpid == pid {
			status, found = exitStatus(ws), true
		}
	}
}

// waitInit collects the exited init's status, if it is skiff's child.
func waitInit(pid int) (int, error) {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		switch err {
		case nil:
			return exitStatus(ws), nil
		case unix.EINTR:
			continue
		case unix.ECHILD:
			return -1, ErrNotChild
		default:
			return -1, fmt.Errorf("wait for init %d: %w", pid, err)
		}
	}
}

func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
