package nsenter

/*
void skiff_restore_affinity(void);
*/
import "C"

// RestoreAffinity gives every thread of skiff its caller's CPU affinity
// back, which skiff narrowed to one CPU before the Go runtime started so
// that the runtime made a single P (maxprocs.c). skiff's main calls it
// first: every process and thread skiff starts inherits the affinity of
// the thread that starts it.
func RestoreAffinity() { C.skiff_restore_affinity() }
