package nsenter

/*
int skiff_catch_signals(int fd, const int *sigs, int n);
*/
import "C"

import (
	"fmt"
	"syscall"
)

// CatchSignals gives sigs a C handler that writes each signal's number,
// one byte, to fd, which should be the non-blocking write end of a pipe
// (signals.c says why not os/signal). Only for signals the Go runtime
// does not need itself.
func CatchSignals(fd int, sigs []syscall.Signal) error {
	if len(sigs) == 0 {
		return nil
	}
	cs := make([]C.int, len(sigs))
	for i, s := range sigs {
		cs[i] = C.int(s)
	}
	if r := C.skiff_catch_signals(C.int(fd), &cs[0], C.int(len(cs))); r < 0 {
		return fmt.Errorf("sigaction: %w", syscall.Errno(-r))
	}
	return nil
}
