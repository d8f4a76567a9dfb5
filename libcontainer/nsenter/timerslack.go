package nsenter

/*
extern unsigned long skiff_caller_timerslack;
void skiff_timerslack_caller(void);
void skiff_timerslack_raised(void);
*/
import "C"

import "runtime"

// WithCallerTimerSlack runs start, which forks, on a thread that has the
// timer slack of skiff's caller rather than the 20 ms skiff runs with
// (timerslack.c): the child inherits the slack of the thread that forks
// it, as its current and its default value. When skiff left its slack
// alone, start runs as it is.
func WithCallerTimerSlack(start func() error) error {
	if C.skiff_caller_timerslack == 0 {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.skiff_timerslack_caller()
	defer C.skiff_timerslack_raised()
	return start()
}
