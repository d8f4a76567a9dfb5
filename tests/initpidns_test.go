package tests

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A container with a new pid namespace and no user or time namespace
// has its init started as PID 1 of that namespace (CLONE_NEWPID when
// skiff clones it): the process skiff started, which exec'd skiff's
// binary, is the init; no stage forks it. With a user namespace the
// pid namespace is made in it, after it, so stage 1 forks the init as
// before. Seen from the kernel's process events: the init's pid exec'd
// during `create` in the first case, not in the second (a forked init
// execs only at `start`).
func TestInitBornInPidNamespace(t *testing.T) {
	for _, userns := range []bool{false, true} {
		name := "no user namespace"
		if userns {
			name = "user namespace"
		}
		t.Run(name, func(t *testing.T) {
			c := newCtr(t, sleeper)
			if userns {
				withUserNS(c.Spec)
				c.writeSpec()
				prepareUserNSBundle(t, c)
			}
			events := listenProcEvents(t)
			c.create()
			pid := c.mustState().Pid
			execd := events.execsDuring(t, 300*time.Millisecond)
			if got, want := execd[pid], !userns; got != want {
				t.Errorf("the init (pid %d) exec'd during create: %v, want %v", pid, got, want)
			}
			// PID 1 of its namespace either way.
			if ns := nsPid(t, pid); ns != 1 {
				t.Errorf("the init is pid %d in its namespace, want 1", ns)
			}
			c.mustRun("start", c.ID)
			c.mustRun("delete", "--force", c.ID)
		})
	}
}

// procEvents is a socket on the kernel's process events connector
// (CONFIG_PROC_EVENTS; listening takes CAP_NET_ADMIN).
type procEvents struct{ fd int }

const (
	cnIdxProc          = 1
	cnValProc          = 1
	procCnMcastListen  = 1
	procEventExec      = 2
	cnMsgHeaderLen     = 20 // id{idx, val}, seq, ack, len u16, flags u16
	procEventHeaderLen = 16 // what, cpu, timestamp_ns
)

func listenProcEvents(t *testing.T) *procEvents {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		t.Skipf("no netlink connector: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		t.Skipf("process events: bind: %v", err)
	}
	// nlmsghdr, cn_msg, then the op.
	msg := make([]byte, unix.NLMSG_HDRLEN+cnMsgHeaderLen+4)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.NLMSG_DONE)
	ne.PutUint32(msg[12:], uint32(unix.Getpid()))
	cn := msg[unix.NLMSG_HDRLEN:]
	ne.PutUint32(cn[0:], cnIdxProc)
	ne.PutUint32(cn[4:], cnValProc)
	ne.PutUint16(cn[16:], 4)
	ne.PutUint32(cn[cnMsgHeaderLen:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Skipf("process events: listen: %v", err)
	}
	return &procEvents{fd: fd}
}

// execsDuring reads the events queued so far, and those that arrive
// until quiet passes without one: the tgids that exec'd.
func (p *procEvents) execsDuring(t *testing.T, quiet time.Duration) map[int]bool {
	t.Helper()
	tv := unix.NsecToTimeval(quiet.Nanoseconds())
	if err := unix.SetsockoptTimeval(p.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	execd := map[int]bool{}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(p.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EWOULDBLOCK) {
			return execd
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("process events: %v", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			t.Fatalf("process events: %v", err)
		}
		for _, m := range msgs {
			ev := m.Data
			if len(ev) < cnMsgHeaderLen+procEventHeaderLen+8 {
				continue
			}
			ev = ev[cnMsgHeaderLen:]
			if binary.NativeEndian.Uint32(ev) == procEventExec {
				// event_data.exec: process_pid, process_tgid.
				execd[int(binary.NativeEndian.Uint32(ev[procEventHeaderLen+4:]))] = true
			}
		}
	}
}

// nsPid is pid's number in its innermost pid namespace (NSpid in
// /proc/<pid>/status).
func nsPid(t *testing.T, pid int) int {
	t.Helper()
	for _, line := range strings.Split(readString(fmt.Sprintf("/proc/%d/status", pid)), "\n") {
		if k, v, _ := strings.Cut(line, ":"); k == "NSpid" {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[len(f)-1])
				return n
			}
		}
	}
	t.Fatalf("no NSpid for pid %d", pid)
	return 0
}
