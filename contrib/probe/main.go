// Command probe runs inside test containers and reports, as JSON, what
// the container looks like from within. It is built static (no cgo) so
// it runs on any rootfs, and it never opens a file through Go's poller,
// so that the descriptors it reports are exactly the ones it inherited
// plus the one it uses to list /proc/self/fd.
//
// Usage:
//
//	probe json             facts about this process (see facts.Facts)
//	probe write PATH DATA  create/truncate PATH and write DATA; prints facts.Result
//	probe stat PATH...     lstat each PATH; prints []facts.Stat
//	probe ls PATH          sorted names in directory PATH; prints []string
//	probe cat PATH...      copies the files to stdout
//	probe exit N           exits with status N
//	probe sleep SECONDS    sleeps, then exits 0
//
// The go:debug lines stop the runtime from keeping cgroup cpu files
// open to track GOMAXPROCS, which would show up as leaked descriptors.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/contrib/probe/facts"
)

func main() {
	if len(os.Args) < 2 {
		fail(2, "usage: probe json|write|stat|ls|cat|exit|sleep ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "json":
		printJSON(collect())
	case "write":
		if len(args) != 2 {
			fail(2, "usage: probe write PATH DATA")
		}
		res := write(args[0], args[1])
		printJSON(res)
		if !res.OK {
			os.Exit(1)
		}
	case "stat":
		out := make([]facts.Stat, 0, len(args))
		for _, p := range args {
			out = append(out, lstat(p))
		}
		printJSON(out)
	case "ls":
		if len(args) != 1 {
			fail(2, "usage: probe ls PATH")
		}
		names, err := readDirNames(args[0])
		if err != nil {
			fail(1, "ls %s: %v", args[0], err)
		}
		sort.Strings(names)
		printJSON(names)
	case "cat":
		for _, p := range args {
			b, err := readFile(p)
			if err != nil {
				fail(1, "cat %s: %v", p, err)
			}
			writeAll(1, b)
		}
	case "exit":
		n, err := strconv.Atoi(firstArg(args))
		if err != nil {
			fail(2, "usage: probe exit N")
		}
		os.Exit(n)
	case "sleep":
		secs, err := strconv.ParseFloat(firstArg(args), 64)
		if err != nil {
			fail(2, "usage: probe sleep SECONDS")
		}
		time.Sleep(time.Duration(secs * float64(time.Second)))
	case "notify":
		// sd_notify: one datagram to $NOTIFY_SOCKET.
		addr := &net.UnixAddr{Name: os.Getenv("NOTIFY_SOCKET"), Net: "unixgram"}
		conn, err := net.DialUnix("unixgram", nil, addr)
		if err != nil {
			fail(1, "notify: %v", err)
		}
		if _, err := conn.Write([]byte(firstArg(args))); err != nil {
			fail(1, "notify: %v", err)
		}
		conn.Close()
	default:
		fail(2, "unknown subcommand %q", os.Args[1])
	}
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func printJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(1, "marshal: %v", err)
	}
	writeAll(1, append(b, '\n'))
}

// writeAll writes with raw syscalls: os.Stdout may register a
// non-blocking pipe with the poller, which would open an epoll fd.
func writeAll(fd int, b []byte) {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			os.Exit(1)
		}
		b = b[n:]
	}
}

func fail(code int, format string, a ...any) {
	writeAll(2, []byte("probe: "+fmt.Sprintf(format, a...)+"\n"))
	os.Exit(code)
}

func write(path, data string) facts.Result {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err == nil {
		_, err = unix.Write(fd, []byte(data))
		if cerr := unix.Close(fd); err == nil {
			err = cerr
		}
	}
	if err != nil {
		res := facts.Result{Error: err.Error()}
		if errno, ok := err.(unix.Errno); ok {
			res.Errno = unix.ErrnoName(errno)
		}
		return res
	}
	return facts.Result{OK: true}
}

func lstat(path string) facts.Stat {
	s := facts.Stat{Path: path}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errno, ok := err.(unix.Errno); ok {
			s.Errno = unix.ErrnoName(errno)
		}
		return s
	}
	s.Exists = true
	s.Mode = fmt.Sprintf("%04o", st.Mode&0o7777)
	s.UID, s.GID = int(st.Uid), int(st.Gid)
	s.Size = st.Size
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		s.Type = "file"
	case unix.S_IFDIR:
		s.Type = "dir"
	case unix.S_IFLNK:
		s.Type = "symlink"
		s.Link, _ = os.Readlink(path)
	case unix.S_IFCHR:
		s.Type = "char"
	case unix.S_IFBLK:
		s.Type = "block"
	case unix.S_IFIFO:
		s.Type = "fifo"
	case unix.S_IFSOCK:
		s.Type = "socket"
	}
	if s.Type == "char" || s.Type == "block" {
		s.Major, s.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	}
	return s
}
