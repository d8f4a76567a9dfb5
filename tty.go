package main

import (
	"io"
	"os"
	"sync"

	"github.com/containerd/console"
)

// ttyProxy relays between skiff's own terminal and a container's pty
// when `run` or `exec` has a terminal and no console socket: raw mode on
// the host terminal, window size changes passed on (resize, called by
// the signal forwarder on SIGWINCH), the host terminal restored at the
// end.
type ttyProxy struct {
	host   console.Console // nil when skiff's stdin is not a terminal
	master console.Console
	done   sync.WaitGroup
}

func newTTYProxy() *ttyProxy { return &ttyProxy{} }

// take is the OnConsole callback: it receives the pty master.
func (t *ttyProxy) take(master *os.File) error {
	m, err := console.ConsoleFromFile(master)
	if err != nil {
		master.Close()
		return err
	}
	t.master = m
	if c, err := console.ConsoleFromFile(os.Stdin); err == nil {
		t.host = c
		if err := c.SetRaw(); err != nil {
			return err
		}
		t.resize()
	}
	go func() { _, _ = io.Copy(m, os.Stdin) }()
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		_, _ = io.Copy(os.Stdout, m)
	}()
	return nil
}

// resize copies skiff's terminal size to the container's pty.
func (t *ttyProxy) resize() {
	if t.host == nil || t.master == nil {
		return
	}
	if size, err := t.host.Size(); err == nil {
		_ = t.master.Resize(size)
	}
}

// close waits for the container's output to drain and restores the host
// terminal.
func (t *ttyProxy) close() {
	if t.master == nil {
		return
	}
	t.done.Wait()
	if t.host != nil {
		_ = t.host.Reset()
	}
	t.master.Close()
}
