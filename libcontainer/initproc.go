package libcontainer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/initplan"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/nsenter"
)

// initProcess is the parent's end of one `skiff init`: the first stage
// it started, and the socket the protocol of initplan/wire.go runs on.
type initProcess struct {
	// stage1 is the process started, which forks the init (or the
	// exec'd process) and exits; or, stage1IsInit, which is the init,
	// started as PID 1 of the container's pid namespace.
	stage1       child
	stage1IsInit bool
	// bornInCgroup: clone3 put stage 1 in its cgroup (CLONE_INTO_CGROUP).
	bornInCgroup bool
	// conn is the parent's end of the socket, non-blocking, through the
	// Go runtime's poller: a goroutine waiting for the init parks
	// instead of holding a thread in a blocking read. nil once closed.
	conn     *os.File
	pids     map[int]bool // every pid that sent a frame: stage 1 and the init
	received *os.File     // the last fd the init sent
	// For the --debug trace: when the parent started the init, and the
	// MSG_STEP_TIMES the init sent (steptimes.go).
	startedNs uint64
	stepTimes []byte
	// queued: the plan was written to the socket before stage 1 started
	// (startInit's queue), all but unsent.
	queued bool
	unsent []byte
}

// queuePlan builds the plan before stage 1 starts, for a stage 1 born in
// its cgroup or not (clone3 may refuse, and then stage 1 is started
// again, the other way).
type queuePlan func(born bool) (*initplan.Plan, error)

// planFrame is the plan as the init reads it: one MSG_BOOTSTRAP frame.
func planFrame(plan *initplan.Plan) ([]byte, error) {
	payload, err := initplan.Encode(plan)
	if err != nil {
		return nil, err
	}
	return initplan.Frame(initplan.MsgBootstrap, payload), nil
}

// InitError is a failure the init reported: which step, what it did,
// and the errno.
type InitError struct {
	Step   int
	What   string // the step, as initplan describes it
	Op     string
	Detail string
	Errno  syscall.Errno
}

func (e *InitError) Error() string {
	msg := e.Op + ": " + e.Detail
	if e.Op == "exec" && e.Errno == unix.ENOENT {
		// runc's wording, which engines and users know.
		return "exec: " + e.Detail
	}
	if e.Errno != 0 {
		msg += ": " + e.Errno.Error()
	}
	return msg
}

func (e *InitError) Unwrap() error { return e.Errno }

// startInit starts `skiff init` with the preserved fds 3.., then extra
// (the exec fifo), then the socket: the socket is the last fd, and the C
// stage closes anything above it. With a cgroup directory (v2), the
// process is born in that cgroup where the kernel can do it; the caller
// moves it there when bornInCgroup is false.
// With queue, the plan is written to the socket before stage 1 starts:
// stage 1 reads it the moment it runs, instead of waiting until this
// process, woken when the fork is done, has built and sent it (exec,
// where nothing must happen in the parent before stage 1 goes on).
// With bornInPidNS, the process is started in a new pid namespace and is
// the init itself (initplan.InitBornInPidNamespace).
func startInit(preserveFDs int, extra []*os.File, cgroupDir *os.File, queue queuePlan, bornInPidNS bool) (*initProcess, error) {
	return startInitWithStdio(preserveFDs, extra, cgroupDir, os.Stdin, os.Stdout, os.Stderr, queue, bornInPidNS)
}

// inheritedFd is fd when skiff inherited it from its caller, else -1,
// which leaves it closed in the child. An fd that survived the execve
// that started skiff is not close-on-exec, and every fd skiff opens
// itself is (its signalfd, pipes, the userfaultfd of
// nsenter/faultaround.c): a preserved fd that is close-on-exec was not
// given by the caller, and what skiff opened in that gap must not reach
// the container.
func inheritedFd(fd int) uintptr {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC != 0 {
		return ^uintptr(0)
	}
	return uintptr(fd)
}

// startInitWithStdio is startInit with other stdio.
func startInitWithStdio(preserveFDs int, extra []*os.File, cgroupDir, stdin, stdout, stderr *os.File, queue queuePlan, bornInPidNS bool) (*initProcess, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	// The kernel then stamps each frame with its sender's pid. Only the
	// parent's end is non-blocking: the C stage reads its own blocking.
	if err := unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err == nil {
		err = unix.SetNonblock(fds[0], true)
	}
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fds[1])

	exeFile, err := takeInitExe()
	if err != nil {
		unix.Close(fds[0])
		return nil, err
	}
	defer exeFile.Close()
	// fds 0-2, the preserved ones, extra, the socket, the binary.
	files := make([]uintptr, 0, 3+preserveFDs+len(extra)+2)
	files = append(files, stdin.Fd(), stdout.Fd(), stderr.Fd())
	for i := 0; i < preserveFDs; i++ {
		files = append(files, inheritedFd(3+i))
	}
	for _, f := range extra {
		files = append(files, f.Fd())
	}
	sockFd := len(files)
	files = append(files, uintptr(fds[1]))
	// The binary is passed above the socket, where the C stage closes it
	// first thing; execve resolves the path after the fds are in place.
	exe := fmt.Sprintf("/proc/self/fd/%d", len(files))
	files = append(files, exeFile.Fd())
	pidfd := -1
	attr := &syscall.ProcAttr{
		Env:   []string{},
		Files: files,
		Sys:   &syscall.SysProcAttr{Pdeathsig: unix.SIGKILL, PidFD: &pidfd},
	}
	if bornInPidNS {
		// The init outlives `create`: no death signal. Should skiff die
		// before the init is ready, the init reads EOF on its socket
		// and exits, as a forked init does.
		attr.Sys.Cloneflags = unix.CLONE_NEWPID
		attr.Sys.Pdeathsig = 0
	}
	argv := []string{"skiff", "init", strconv.Itoa(sockFd)}
	startedNs := monotonicNs()
	born := false
	var pid int
	var q queued
	err = nsenter.WithCallerTimerSlack(func() (err error) {
		if cgroupDir != nil {
			if err := q.write(fds[0], queue, true); err != nil {
				return err
			}
			attr.Sys.UseCgroupFD = true
			attr.Sys.CgroupFD = int(cgroupDir.Fd())
			pid, err = syscall.ForkExec(exe, argv, attr)
			if err == nil {
				born = true
				return nil
			}
			// Kernels before 5.7 have no CLONE_INTO_CGROUP (and some
			// seccomp profiles refuse clone3): start it the old way.
			logs.Debugf("clone3 into cgroup: %v; moving the process instead", err)
			attr.Sys.UseCgroupFD, attr.Sys.CgroupFD = false, 0
			if err := q.takeBack(fds[1]); err != nil {
				return err
			}
		}
		if err := q.write(fds[0], queue, false); err != nil {
			return err
		}
		pid, err = syscall.ForkExec(exe, argv, attr)
		return err
	})
	if born {
		logs.Debugf("init born in its cgroup (clone3 CLONE_INTO_CGROUP)")
	}
	if err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("start init: %w", err)
	}
	conn := os.NewFile(uintptr(fds[0]), "init-socket")
	return &initProcess{
		stage1: child{pid: pid, pidfd: pidfd}, stage1IsInit: bornInPidNS, conn: conn, pids: map[int]bool{}, bornInCgroup: born, startedNs: startedNs,
		queued: queue != nil, unsent: q.unsent,
	}, nil
}

// queued is a plan frame written to the parent's end of the socket
// before stage 1 exists: the socket's buffer holds it (what does not
// fit is sent later, unsent).
type queued struct {
	written int
	unsent  []byte
}

func (q *queued) write(parentEnd int, queue queuePlan, born bool) error {
	if queue == nil {
		return nil
	}
	plan, err := queue(born)
	if err != nil {
		return err
	}
	frame, err := planFrame(plan)
	if err != nil {
		return err
	}
	n, err := unix.Write(parentEnd, frame)
	if err == unix.EAGAIN {
		n, err = 0, nil
	}
	if err != nil {
		return fmt.Errorf("send init plan: %w", err)
	}
	q.written, q.unsent = n, frame[n:]
	return nil
}

// takeBack reads back, from stage 1's end, the frame written for a
// stage 1 that was not started.
func (q *queued) takeBack(childEnd int) error {
	buf := make([]byte, q.written)
	for got := 0; got < len(buf); {
		n, err := unix.Read(childEnd, buf[got:])
		if err == nil && n == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("take back the init plan: %w", err)
		}
		got += n
	}
	q.written, q.unsent = 0, nil
	return nil
}

func (p *initProcess) stage1Pid() int { return p.stage1.pid }

// initHandler answers the init's requests during a create.
type initHandler struct {
	cfg       *configs.Config
	onReady   func(pid int) error
	onSync    func(tag uint32, pid int) error
	onConsole func(master *os.File) error
	// onSeccompFd hands a seccomp listener fd to the agent.
	onSeccompFd func(fd *os.File, pid int) error
	// onPid is set for exec: the process reported its pid, and the run
	// ends at EOF (execve closed the socket).
	onPid  func(pid int) error
	gotPid bool
	// afterSend runs once the plan is sent, before any frame is read:
	// work the parent does while the init starts on its plan.
	afterSend func() error
}

// run sends the plan (what startInit did not queue of it) and serves the
// init until it is ready (create) or the socket closes (exec: the socket
// is close-on-exec).
func (p *initProcess) run(plan *initplan.Plan, h *initHandler) error {
	defer p.closeConn()
	frame := p.unsent
	if !p.queued {
		var err error
		if frame, err = planFrame(plan); err != nil {
			return err
		}
	}
	if len(frame) > 0 {
		if _, err := p.conn.Write(frame); err != nil {
			return fmt.Errorf("send init plan: %w", err)
		}
	}
	if h.afterSend != nil {
		if err := h.afterSend(); err != nil {
			return err
		}
	}
	for {
		typ, body, pid, err := p.readFrame()
		if errors.Is(err, io.EOF) {
			if h.gotPid {
				_ = p.stage1.wait()
				return nil
			}
			return p.exitedEarly()
		}
		if err != nil {
			return fmt.Errorf("read from init: %w", err)
		}
		if pid > 0 {
			p.pids[pid] = true
		}
		switch typ {
		case initplan.MsgUsermapReq:
			if err := writeIDMaps(pid, h.cfg); err != nil {
				return err
			}
		case initplan.MsgTimensReq:
			if err := writeTimeOffsets(pid, h.cfg); err != nil {
				return err
			}
		case initplan.MsgSyncReq:
			if len(body) != 4 {
				return errors.New("init: bad sync request")
			}
			if h.onSync != nil {
				if err := h.onSync(binary.NativeEndian.Uint32(body), pid); err != nil {
					return err
				}
			}
		case initplan.MsgPtyMaster:
			master := p.received
			p.received = nil
			if master == nil {
				return errors.New("init: pty master frame without an fd")
			}
			if h.onConsole == nil {
				master.Close()
				return errors.New("init sent a terminal nobody asked for")
			}
			// onConsole owns master from here on.
			if err := h.onConsole(master); err != nil {
				return err
			}
			continue
		case initplan.MsgSeccompFd:
			fd := p.received
			p.received = nil
			if fd == nil || h.onSeccompFd == nil {
				return errors.New("init: unexpected seccomp listener")
			}
			err := h.onSeccompFd(fd, pid)
			fd.Close()
			if err != nil {
				return err
			}
		case initplan.MsgPid:
			if h.onPid == nil || h.gotPid {
				return errors.New("init: unexpected pid report")
			}
			h.gotPid = true
			if err := h.onPid(pid); err != nil {
				return err
			}
			continue
		case initplan.MsgLog:
			logFromInit(body)
			continue
		case initplan.MsgStepTimes:
			p.stepTimes = body
			continue
		case initplan.MsgError:
			return decodeInitError(body, plan)
		case initplan.MsgReady:
			if err := h.onReady(pid); err != nil {
				return err
			}
			if _, err := p.conn.Write(initplan.Frame(initplan.MsgAck, nil)); err != nil {
				return fmt.Errorf("init: %w", err)
			}
			if p.stage1IsInit {
				// The init runs on; its pidfd is the caller's to open.
				p.stage1.release()
				return nil
			}
			// Reap stage 1, which exited after forking the init.
			_ = p.stage1.wait()
			return nil
		default:
			return fmt.Errorf("init: unexpected frame %d", typ)
		}
		if _, err := p.conn.Write(initplan.Frame(initplan.MsgAck, nil)); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
}

// exitedEarly explains an EOF before the init reported ready.
func (p *initProcess) exitedEarly() error {
	err := p.stage1.wait()
	if err != nil {
		return fmt.Errorf("init exited before it was ready: %w", err)
	}
	return errors.New("init exited before it was ready")
}

func (p *initProcess) closeConn() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// kill ends every process of this init that is still there.
func (p *initProcess) kill() {
	p.closeConn()
	for pid := range p.pids {
		if pid != p.stage1.pid {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	p.stage1.kill()
	_ = p.stage1.wait()
}

// readFrame reads one frame and the pid the kernel stamped on it. An fd
// sent with the frame (MSG_PTY_MASTER) is left in p.received.
func (p *initProcess) readFrame() (typ uint32, body []byte, pid int, err error) {
	rc, err := p.conn.SyscallConn()
	if err != nil {
		return 0, nil, 0, err
	}
	// read runs op once the socket is readable; op returns EAGAIN to
	// wait for more.
	read := func(op func(fd int) error) error {
		var opErr error
		if err := rc.Read(func(fd uintptr) bool {
			for {
				opErr = op(int(fd))
				if opErr != unix.EINTR {
					return opErr != unix.EAGAIN
				}
			}
		}); err != nil {
			return err
		}
		return opErr
	}
	hdr := make([]byte, 8)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4))
	got := 0
	for got < len(hdr) {
		var n, oobn int
		err := read(func(fd int) (err error) {
			n, oobn, _, _, err = unix.Recvmsg(fd, hdr[got:], oob, 0)
			return err
		})
		if err != nil {
			return 0, nil, 0, err
		}
		if n == 0 {
			return 0, nil, 0, io.EOF
		}
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				return 0, nil, 0, fmt.Errorf("control message: %w", err)
			}
			for _, m := range msgs {
				if cred, err := unix.ParseUnixCredentials(&m); err == nil && got == 0 {
					pid = int(cred.Pid)
				}
				if fds, err := unix.ParseUnixRights(&m); err == nil {
					for _, f := range fds {
						unix.CloseOnExec(f)
						if p.received != nil {
							p.received.Close()
						}
						p.received = os.NewFile(uintptr(f), "fd-from-init")
					}
				}
			}
		}
		got += n
	}
	typ = binary.NativeEndian.Uint32(hdr[0:])
	size := binary.NativeEndian.Uint32(hdr[4:])
	if size > initplan.MaxFrame {
		return 0, nil, 0, fmt.Errorf("frame of %d bytes", size)
	}
	body = make([]byte, size)
	for got := 0; got < len(body); {
		var n int
		err := read(func(fd int) (err error) {
			n, err = unix.Read(fd, body[got:])
			return err
		})
		if err != nil {
			return 0, nil, 0, err
		}
		if n == 0 {
			return 0, nil, 0, io.ErrUnexpectedEOF
		}
		got += n
	}
	return typ, body, pid, nil
}

// wireReader reads the C side's str fields.
type wireReader struct {
	b   []byte
	bad bool
}

func (r *wireReader) u32() uint32 {
	if len(r.b) < 4 {
		r.bad = true
		return 0
	}
	v := binary.NativeEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *wireReader) str() string {
	n := int(r.u32())
	if r.bad || n+1 > len(r.b) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n+1:]
	return s
}

func decodeInitError(body []byte, plan *initplan.Plan) error {
	r := &wireReader{b: body}
	e := &InitError{Errno: syscall.Errno(r.u32())}
	e.Step = int(r.u32())
	e.Op = r.str()
	e.Detail = r.str()
	if r.bad {
		return errors.New("init failed (garbled error report)")
	}
	if e.Step >= 0 && e.Step < len(plan.Steps) {
		e.What = plan.Steps[e.Step].String()
	}
	logs.Debugf("init failed at step %d (%s): %v", e.Step, e.What, e)
	return e
}

func logFromInit(body []byte) {
	r := &wireReader{b: body}
	level := r.u32()
	msg := r.str()
	if r.bad {
		return
	}
	if level == initplan.LogLevelDebug {
		logs.Debugf("init: %s", msg)
	} else {
		logs.Warnf("%s", msg)
	}
}
