// Package sysfile reads small files (state.json, config.json, /proc and
// cgroup files) with plain system calls.
//
// os.ReadFile puts every file it opens in non-blocking mode and tries to
// add it to the Go runtime's poller, then, for a regular file, undoes
// both: five system calls more than the open, read and close the job
// needs. `list` pays them for several files of every container, and
// every command for its state and config.
package sysfile

import (
	"os"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// ReadFile returns the contents of path, as os.ReadFile does (its errors
// are *os.PathError too).
func ReadFile(path string) ([]byte, error) {
	return readInto(path, make([]byte, 0, 2048))
}

// buffers are the read buffers of Use. skiff's commands never collect
// garbage, so every allocation is memory the process touches for the
// first time: a page fault per 4 KiB, which costs 15-20 us on a host
// that virtualises page tables in software. `list` reads three small
// files per container; with a fresh buffer for each, those faults were
// a third of its own.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Use reads path into a buffer that it lends to fn and takes back
// afterwards: fn must not keep data, or anything that points into it.
// Its errors are ReadFile's, or fn's.
func Use(path string, fn func(data []byte) error) error {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	data, err := readInto(path, (*bp)[:0])
	if err != nil {
		return err
	}
	*bp = data[:0] // keep what it grew to
	return fn(data)
}

// readInto appends the contents of path to buf.
func readInto(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}
