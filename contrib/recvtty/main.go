// Command recvtty receives the pty master a runtime sends to
// --console-socket and serves it, like runc's recvtty. skiff (and runc)
// connect to the socket and send one message: its data is the pty's
// name, its SCM_RIGHTS control message carries the master fd.
//
// Usage:
//
//	recvtty [--mode single|null] [--pid-file PATH] [--no-stdin] SOCKET
//
// Modes:
//
//	single  accept one terminal and join it to recvtty's stdio, then exit
//	        when the container side closes it. When recvtty's stdin is a
//	        terminal, it is put in raw mode (and restored at the end), and
//	        its size is copied to the container's terminal at first and on
//	        every SIGWINCH, so the container follows window changes.
//	null    accept any number of terminals and discard what they print;
//	        for tests that only need a console socket to exist.
//
// --pid-file is written once the socket listens, so a script can wait
// for the file and then start the runtime.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

func main() {
	fs := flag.NewFlagSet("recvtty", flag.ContinueOnError)
	mode := fs.String("mode", "single", "mode of operation: single or null")
	fs.StringVar(mode, "m", "single", "shorthand for --mode")
	pidFile := fs.String("pid-file", "", "file to write recvtty's pid to once it listens")
	noStdin := fs.Bool("no-stdin", false, "do not copy stdin to the terminal (single mode)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: recvtty [--mode single|null] [--pid-file PATH] [--no-stdin] SOCKET")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		os.Exit(2)
	}
	if err := run(fs.Arg(0), *mode, *pidFile, *noStdin); err != nil {
		fmt.Fprintf(os.Stderr, "recvtty: %v\n", err)
		os.Exit(1)
	}
}

func run(path, mode, pidFile string, noStdin bool) error {
	if mode != "single" && mode != "null" {
		return fmt.Errorf("unknown mode %q (want single or null)", mode)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return err
	}
	// Closing the listener removes the socket file too.
	defer ln.Close()
	if pidFile != "" {
		if err := writePidFile(pidFile); err != nil {
			return err
		}
	}
	if mode == "null" {
		return serveNull(ln)
	}
	master, err := acceptTerminal(ln)
	if err != nil {
		return err
	}
	// One terminal only: let another recvtty take the path over.
	ln.Close()
	return serveSingle(master, noStdin)
}

// writePidFile writes through a temporary name, so a reader never sees
// an empty file.
func writePidFile(path string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// acceptTerminal takes the next connection and the master fd it carries.
func acceptTerminal(ln *net.UnixListener) (*os.File, error) {
	conn, err := ln.AcceptUnix()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return receiveFd(conn)
}

// receiveFd reads the one message a runtime sends. Any fd beyond the
// first is closed, so a confused sender cannot make recvtty leak.
func receiveFd(conn *net.UnixConn) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*8))
	n, oobn, flags, _, err := conn.ReadMsgUnix(name, oob)
	if err != nil {
		return nil, fmt.Errorf("receive terminal: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive terminal: %w", err)
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err == nil {
			fds = append(fds, got...)
		}
	}
	if len(fds) == 0 {
		return nil, errors.New("receive terminal: the message carried no fd")
	}
	for _, fd := range fds[1:] {
		unix.Close(fd)
	}
	if flags&unix.MSG_CTRUNC != 0 {
		unix.Close(fds[0])
		return nil, errors.New("receive terminal: control message truncated")
	}
	unix.CloseOnExec(fds[0])
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// serveSingle joins the terminal to recvtty's stdio until the container
// side is gone (reads fail with EIO once no process holds the pty's
// other end).
func serveSingle(master *os.File, noStdin bool) error {
	c, err := console.ConsoleFromFile(master)
	if err != nil {
		master.Close()
		return fmt.Errorf("the received fd is not a terminal: %w", err)
	}
	defer c.Close()
	if !noStdin {
		if host, err := console.ConsoleFromFile(os.Stdin); err == nil {
			if err := host.SetRaw(); err != nil {
				return fmt.Errorf("raw mode on stdin: %w", err)
			}
			defer func() { _ = host.Reset() }()
			stop := followSize(host, c)
			defer stop()
		}
		// Not waited for: stdin may never reach EOF, and the session
		// ends with the container's side of the terminal.
		go func() { _, _ = io.Copy(c, os.Stdin) }()
	}
	_, err = io.Copy(os.Stdout, c)
	if isEIO(err) {
		err = nil
	}
	return err
}

// followSize copies the host terminal's size to the container's now and
// on every SIGWINCH; the kernel then signals the container's foreground
// process group. The returned function stops it.
func followSize(host, ctr console.Console) func() {
	resize := func() {
		if size, err := host.Size(); err == nil {
			_ = ctr.Resize(size)
		}
	}
	resize()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range winch {
			resize()
		}
	}()
	return func() {
		signal.Stop(winch)
		close(winch)
		wg.Wait()
	}
}

// serveNull accepts terminals for ever, draining each so that the
// container never blocks writing to it.
func serveNull(ln *net.UnixListener) error {
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return err
		}
		go func() {
			master, err := receiveFd(conn)
			conn.Close()
			if err != nil {
				fmt.Fprintf(os.Stderr, "recvtty: %v\n", err)
				return
			}
			defer master.Close()
			_, _ = io.Copy(io.Discard, master)
		}()
	}
}

func isEIO(err error) bool {
	return errors.Is(err, unix.EIO)
}
