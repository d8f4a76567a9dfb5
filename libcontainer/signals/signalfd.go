package signals

import (
	"encoding/binary"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/nsenter"
)

// relayed reports whether Forward passes s on: every signal but the
// synchronous faults, KILL and STOP, the ones the Go runtime keeps (URG,
// PROF), PIPE, and the C library's real-time signals (32-34). The same
// set as libcontainer/nsenter/signals.c.
func relayed(s unix.Signal) bool {
	switch s {
	case unix.SIGILL, unix.SIGTRAP, unix.SIGBUS, unix.SIGFPE, unix.SIGSEGV, unix.SIGSYS,
		unix.SIGKILL, unix.SIGSTOP, unix.SIGURG, unix.SIGPROF, unix.SIGPIPE:
		return false
	}
	return s >= 1 && s <= 64 && (s < 32 || s > 34)
}

// startupBlocked splits the relayed signals in two when skiff's start-up
// blocked them (libcontainer/nsenter/signals.c, for a foreground run or
// exec): those still blocked, which every Go thread inherits and the
// kernel keeps pending for a signalfd, and those the Go runtime
// unblocked on each thread as it started because their default action
// ends the process (HUP, INT, QUIT, ABRT, TERM, STKFLT) or because it
// needs them (CHLD), which os/signal must catch. ok is false when the
// start-up blocked nothing.
func startupBlocked() (blocked unix.Sigset_t, unblocked []os.Signal, ok bool) {
	var mask unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &mask); err != nil {
		return blocked, nil, false
	}
	// Both are in the start-up set, stay blocked in Go, and are rarely
	// blocked by whoever started skiff.
	if !sigismember(&mask, unix.SIGUSR1) || !sigismember(&mask, unix.Signal(64)) {
		return blocked, nil, false
	}
	for s := unix.Signal(1); s <= 64; s++ {
		switch {
		case !relayed(s):
		case sigismember(&mask, s):
			sigaddset(&blocked, s)
		default:
			unblocked = append(unblocked, s)
		}
	}
	return blocked, unblocked, true
}

func sigismember(set *unix.Sigset_t, s unix.Signal) bool {
	n := int(s) - 1
	return set.Val[n/64]&(1<<(uint(n)%64)) != 0
}

func sigaddset(set *unix.Sigset_t, s unix.Signal) {
	n := int(s) - 1
	set.Val[n/64] |= 1 << (uint(n) % 64)
}

const siginfoSize = int(unsafe.Sizeof(unix.SignalfdSiginfo{}))

// readSignalFD delivers the signals read from a signalfd for mask to
// f.ch, as os/signal would.
func (f *Forwarder) readSignalFD(mask unix.Sigset_t) error {
	fd, err := unix.Signalfd(-1, &mask, unix.SFD_CLOEXEC|unix.SFD_NONBLOCK)
	if err != nil {
		return err
	}
	file := os.NewFile(uintptr(fd), "signalfd")
	go func() {
		defer file.Close()
		var buf [16 * siginfoSize]byte
		for {
			n, err := file.Read(buf[:])
			if err != nil {
				return
			}
			for off := 0; off+siginfoSize <= n; off += siginfoSize {
				signo := binary.NativeEndian.Uint32(buf[off:])
				f.ch <- unix.Signal(signo)
			}
		}
	}()
	return nil
}

// catchUnblocked delivers sigs, which the Go runtime keeps unblocked on
// its threads, to f.ch through nsenter.CatchSignals and a pipe.
func (f *Forwarder) catchUnblocked(sigs []os.Signal) error {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return err
	}
	nums := make([]syscall.Signal, len(sigs))
	for i, s := range sigs {
		nums[i] = s.(syscall.Signal)
	}
	if err := nsenter.CatchSignals(p[1], nums); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return err
	}
	f.caughtFd = p[1]
	// The write end stays open for the handler as long as skiff runs.
	r := os.NewFile(uintptr(p[0]), "caught signals")
	go func() {
		defer r.Close()
		var buf [64]byte
		for {
			n, err := r.Read(buf[:])
			if err != nil {
				return
			}
			for _, b := range buf[:n] {
				f.ch <- unix.Signal(b)
			}
		}
	}()
	return nil
}
