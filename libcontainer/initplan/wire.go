// Package initplan turns a validated container config into an init plan,
// the flat list of steps that skiff's C stage (libcontainer/nsenter)
// carries out inside the new container, and encodes it for the wire.
//
// # The protocol between `skiff create` (parent) and `skiff init`
//
// One SOCK_STREAM socketpair. Every message is a frame: a native-endian
// header {u32 type; u32 length} and length bytes of payload (at most
// 16 MiB). The parent sets SO_PASSCRED, so the kernel stamps each frame
// with the sender's pid as the parent sees it: that is how the parent
// learns the init's host pid without the init ever knowing it.
//
//	step  direction        frame            payload / what happens
//	----  ---------        -----            ----------------------
//	1     parent -> init   MSG_BOOTSTRAP    header {u32 magic; u32 version; u32 count} + count records
//	2     stage 1          REC_CGROUP_JOIN  (cgroup v1) write "0" to each cgroup's tasks: stage 1 moves itself
//	                                        (exec: only open them; REC_CGROUP_JOIN_KEPT after the fork writes)
//	2     stage 1          REC_NS_JOIN      setns() into each namespace given by path, user ns first
//	3     stage 1          REC_NS_UNSHARE   unshare(CLONE_NEWUSER) alone, then:
//	3a    init -> parent   MSG_USERMAP_REQ  parent writes setgroups, uid_map, gid_map of the sender
//	3b    parent -> init   MSG_ACK          stage 1 becomes root in the new user ns, unshares the rest
//	3c    init -> parent   MSG_TIMENS_REQ   (new time ns only) parent writes timens_offsets; MSG_ACK
//	4     stage 1          REC_FORK_INIT    fork(): the child is PID 1 of the new pid ns; stage 1 exits 0
//	                                        (none where stage 1 was born PID 1 of a new pid ns, without
//	                                        a user or time ns: InitBornInPidNamespace; it is the init)
//	5     init             REC_* steps      carried out in order (mounts, pivot_root, ..., user, caps)
//	5a    init -> parent   MSG_SYNC_REQ     {u32 tag} at REC_SYNC: the parent runs hooks; MSG_ACK
//	5b    init -> parent   MSG_PTY_MASTER   (terminal) the pty master, as SCM_RIGHTS
//	5c    init -> parent   MSG_LOG          {u32 level; str msg}: warnings, debug lines
//	5d    init -> parent   MSG_STEP_TIMES   {u64 started; u32 n; u64 step[n]; u64 now}: when the init
//	                                        started and each step began (CLOCK_MONOTONIC ns), sent
//	                                        once, before MSG_READY or (exec) before execve
//	6     init -> parent   MSG_READY        at REC_WAIT_EXEC_FIFO: setup is done
//	6a    parent -> init   MSG_ACK          the parent has saved the state; the init closes the
//	                                        socket and blocks opening exec.fifo until `skiff start`
//	7     init                              seccomp filter, then execve()
//	any   init -> parent   MSG_ERROR        {i32 errno; u32 step; str op; str detail}; the sender exits 1
//
// `skiff exec` uses the same frames: stage 1 joins every namespace of
// the container, REC_REPORT_PID replaces the exec fifo, and the parent
// reads until EOF (the socket is close-on-exec, so EOF means execve
// succeeded) or MSG_ERROR.
//
// # Record encoding
//
// A record is {u32 kind; u32 length} then its fields, in the order the
// step's Go type lists them: u32 and u64 native-endian; str = u32 n, n
// bytes, NUL (the C side checks the NUL and that no NUL is inside);
// strv = u32 count, count strs; blob = u32 n, n bytes. The C side checks
// every length against what is left of the record before reading it, and
// a record must be consumed exactly.
package initplan

import (
	"encoding/binary"
	"errors"
	"math"
)

// Numbers shared with libcontainer/nsenter/wire.h (a test compares them).
const (
	PlanMagic   = 0x736b6966
	PlanVersion = 1
	MaxFrame    = 16 << 20

	MsgBootstrap  = 1
	MsgAck        = 2
	MsgUsermapReq = 16
	MsgTimensReq  = 17
	MsgSyncReq    = 18
	MsgReady      = 19
	MsgError      = 20
	MsgLog        = 21
	MsgPid        = 22
	MsgPtyMaster  = 23
	MsgSeccompFd  = 24
	MsgStepTimes  = 25

	recNSJoin         = 1
	recNSUnshare      = 2
	recForkInit       = 3
	recSetsid         = 10
	recRootfs         = 11
	recMountBind      = 12
	recMountFS        = 13
	recDevice         = 14
	recSymlink        = 15
	recPivotRoot      = 16
	recMaskPath       = 17
	recReadonlyPath   = 18
	recRootReadonly   = 19
	recSysctl         = 20
	recHostname       = 21
	recDomainname     = 22
	recRlimit         = 23
	recSync           = 24
	recCapsBounding   = 25
	recUser           = 26
	recCaps           = 27
	recNoNewPrivs     = 28
	recUmask          = 29
	recCwd            = 30
	recCloseFds       = 31
	recExecResolve    = 32
	recWaitExecFifo   = 33
	recSeccomp        = 34
	recExec           = 35
	recReportPid      = 36
	recConsole        = 37
	recMountSetattr   = 38
	recChroot         = 39
	recIOPriority     = 40
	recSchedAttr      = 41
	recPersonality    = 42
	recCPUAffinity    = 43
	recMemoryPolicy   = 44
	recExecLabel      = 45
	recSessionKeyring = 46
	recCgroupJoin     = 47
	recCgroupJoinKept = 48
	recProcHandle     = 39

	fsParamFlag   = 0
	fsParamString = 1

	bindRecursive = 1

	LogLevelWarn  = 1
	LogLevelDebug = 2
)

var errTooLarge = errors.New("init plan: a field is too large to encode")

// encoder appends fields to a record buffer.
type encoder struct {
	buf []byte
	err error
}

func (e *encoder) u32(v uint32) { e.buf = binary.NativeEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64) { e.buf = binary.NativeEndian.AppendUint64(e.buf, v) }

func (e *encoder) str(s string) {
	if len(s) > MaxFrame {
		e.err = errTooLarge
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			e.err = errors.New("init plan: string contains a NUL byte")
			return
		}
	}
	e.u32(uint32(len(s)))
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, 0)
}

func (e *encoder) strv(v []string) {
	e.u32(uint32(len(v)))
	for _, s := range v {
		e.str(s)
	}
}

func (e *encoder) blob(b []byte) {
	if len(b) > MaxFrame {
		e.err = errTooLarge
		return
	}
	e.u32(uint32(len(b)))
	e.buf = append(e.buf, b...)
}

// record writes kind and a length placeholder, runs body, then patches
// the length.
func (e *encoder) record(kind uint32, body func()) {
	e.u32(kind)
	at := len(e.buf)
	e.u32(0)
	body()
	n := len(e.buf) - at - 4
	if n > math.MaxUint32 {
		e.err = errTooLarge
		return
	}
	binary.NativeEndian.PutUint32(e.buf[at:], uint32(n))
}

// Encode returns the MSG_BOOTSTRAP payload for p.
func Encode(p *Plan) ([]byte, error) {
	e := &encoder{buf: make([]byte, 0, 4096)}
	e.u32(PlanMagic)
	e.u32(PlanVersion)
	e.u32(uint32(len(p.Steps)))
	for _, s := range p.Steps {
		s.encode(e)
	}
	if e.err != nil {
		return nil, e.err
	}
	if len(e.buf) > MaxFrame {
		return nil, errTooLarge
	}
	return e.buf, nil
}

// Frame returns a frame header followed by payload.
func Frame(msgType uint32, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.NativeEndian.PutUint32(b[0:], msgType)
	binary.NativeEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}
