// Command seccompagent is a minimal seccomp agent for skiff's tests. It
// listens on a unix socket for the runtime to send a container's process
// state with its seccomp notify fd (as runc and skiff do for
// linux.seccomp.listenerPath), answers every notification with one fixed
// errno, or lets the call continue with -errno 0, and appends what it
// saw to a log as JSON lines:
//
//	{"event":"state","state":{...container process state...}}
//	{"event":"notify","pid":123,"syscall":"mkdirat","args":[...],"errno":28}
//	{"event":"closed","pid":123}
//
// Usage: seccompagent -socket PATH -log PATH [-errno N]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func main() {
	socket := flag.String("socket", "", "unix socket to listen on (linux.seccomp.listenerPath)")
	logPath := flag.String("log", "", "file to append events to")
	errno := flag.Int("errno", int(unix.ENOSPC), "errno for every notified syscall; 0 lets it run")
	flag.Parse()
	if *socket == "" || *logPath == "" || *errno < 0 || *errno > 4095 {
		flag.Usage()
		os.Exit(2)
	}
	a, err := newAgent(*socket, *logPath, syscall.Errno(*errno))
	if err != nil {
		fmt.Fprintln(os.Stderr, "seccompagent:", err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM)
	go func() {
		<-sigs
		a.Close()
	}()
	if err := a.Serve(); err != nil {
		fmt.Fprintln(os.Stderr, "seccompagent:", err)
		os.Exit(1)
	}
}

type agent struct {
	ln     *net.UnixListener
	errno  syscall.Errno
	mu     sync.Mutex
	log    *os.File
	closed bool
}

type event struct {
	Event   string                       `json:"event"`
	State   *specs.ContainerProcessState `json:"state,omitempty"`
	Pid     uint32                       `json:"pid,omitempty"`
	Syscall string                       `json:"syscall,omitempty"`
	Args    []uint64                     `json:"args,omitempty"`
	Errno   *int                         `json:"errno,omitempty"`
	Error   string                       `json:"error,omitempty"`
}

func newAgent(socket, logPath string, errno syscall.Errno) (*agent, error) {
	lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// A socket left by an earlier run would make bind fail.
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		lf.Close()
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		lf.Close()
		return nil, err
	}
	return &agent{ln: ln, errno: errno, log: lf}, nil
}

// Serve accepts runtimes until Close.
func (a *agent) Serve() error {
	for {
		conn, err := a.ln.AcceptUnix()
		if err != nil {
			a.mu.Lock()
			closed := a.closed
			a.mu.Unlock()
			if closed {
				return nil
			}
			return err
		}
		go a.handle(conn)
	}
}

// Close stops accepting and removes the socket; notify fds already
// received stay served until their containers exit.
func (a *agent) Close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.ln.Close() // also unlinks the socket
}

func (a *agent) record(e event) {
	b, _ := json.Marshal(&e)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log.Write(append(b, '\n'))
}

// handle reads one container process state: JSON until EOF, the fds
// arriving with the first message.
func (a *agent) handle(conn *net.UnixConn) {
	defer conn.Close()
	var msg []byte
	var fds []int
	buf, oob := make([]byte, 1<<16), make([]byte, unix.CmsgSpace(16*4))
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		msg = append(msg, buf[:n]...)
		if oobn > 0 {
			fds = append(fds, parseRights(oob[:oobn])...)
		}
		if err != nil || n == 0 {
			break
		}
	}
	var st specs.ContainerProcessState
	if err := json.Unmarshal(msg, &st); err != nil {
		a.record(event{Event: "error", Error: "bad state: " + err.Error()})
		closeAll(fds)
		return
	}
	a.record(event{Event: "state", State: &st})
	for i, fd := range fds {
		if i < len(st.Fds) && st.Fds[i] == specs.SeccompFdName {
			go a.serveNotifications(fd)
		} else {
			unix.Close(fd)
		}
	}
}

func parseRights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range msgs {
		if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func (a *agent) serveNotifications(fd int) {
	defer unix.Close(fd)
	sfd := libseccomp.ScmpFd(fd)
	var lastPid uint32
	for {
		req, err := libseccomp.NotifReceive(sfd)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// ENOENT: every process under the filter has exited.
			a.record(event{Event: "closed", Pid: lastPid})
			return
		}
		lastPid = req.Pid
		name, err := req.Data.Syscall.GetNameByArch(req.Data.Arch)
		if err != nil {
			name = fmt.Sprint(int32(req.Data.Syscall))
		}
		resp := &libseccomp.ScmpNotifResp{ID: req.ID}
		if a.errno == 0 {
			resp.Flags = libseccomp.NotifRespFlagContinue
		} else {
			resp.Error = int32(a.errno) // libseccomp negates it for the kernel
		}
		errno := int(a.errno)
		a.record(event{Event: "notify", Pid: req.Pid, Syscall: name, Args: req.Data.Args, Errno: &errno})
		// The process may have died meanwhile; the kernel then says ENOENT.
		_ = libseccomp.NotifRespond(sfd, resp)
	}
}
