package nsenter

/*
#include <stdlib.h>
int skiff_spawn(const char *path, char *const argv[], char *const envp[], const int stdio[3]);
*/
import "C"

import (
	"fmt"
	"syscall"
	"unsafe"
)

// Spawn starts path with args and env, stdio as its fds 0-2, an empty
// signal mask and every signal at its default action (signals.c), and
// returns its pid. The caller waits for it: Go does not reap it.
//
// Host hooks start this way rather than through os/exec: a child of
// os/exec inherits the mask of skiff's threads, which in a foreground
// run or exec blocks the signals skiff relays.
func Spawn(path string, args, env []string, stdio [3]int) (int, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	cargs := cStrings(args)
	defer freeCStrings(cargs)
	cenv := cStrings(env)
	defer freeCStrings(cenv)
	fds := [3]C.int{C.int(stdio[0]), C.int(stdio[1]), C.int(stdio[2])}
	pid := C.skiff_spawn(cpath, &cargs[0], &cenv[0], &fds[0])
	if pid < 0 {
		return 0, fmt.Errorf("fork/exec %s: %w", path, syscall.Errno(-pid))
	}
	return int(pid), nil
}

// cStrings is a NULL-terminated array of C copies of ss.
func cStrings(ss []string) []*C.char {
	out := make([]*C.char, len(ss)+1)
	for i, s := range ss {
		out[i] = C.CString(s)
	}
	return out
}

func freeCStrings(cs []*C.char) {
	for _, c := range cs {
		if c != nil {
			C.free(unsafe.Pointer(c))
		}
	}
}
