package devicerules

import (
	"bytes"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/userns"
)

// The parts of union bpf_attr (include/uapi/linux/bpf.h) each command
// reads; the kernel takes a shorter attr as zero-filled.

type progLoadAttr struct {
	progType    uint32
	insnCount   uint32
	insns       uint64
	license     uint64
	logLevel    uint32
	logSize     uint32
	logBuf      uint64
	kernVersion uint32
	progFlags   uint32
	progName    [16]byte
}

type progAttachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

type progQueryAttr struct {
	targetFd    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     uint64
	progCount   uint32
	_           uint32
}

type progGetFdAttr struct {
	progID    uint32
	nextID    uint32
	openFlags uint32
}

func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	for again := 0; ; {
		r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
		// The verifier can be interrupted (EAGAIN when a signal came);
		// the load is then retried, a few times.
		if errno == unix.EINTR || (errno == unix.EAGAIN && again < 5) {
			if errno == unix.EAGAIN {
				again++
			}
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(r), nil
	}
}

// license is the program's MODULE_LICENSE: it calls no kernel helper
// that asks for the GPL.
var license = []byte("Apache\x00")

// loadProgram hands p to the kernel and returns the program's fd. If
// the verifier refuses it, the error carries the verifier's log.
func loadProgram(p []Instruction) (int, error) {
	code := Encode(p)
	attr := progLoadAttr{
		progType:  unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCount: uint32(len(p)),
		insns:     uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:   uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], "skiff_devices")
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err == nil || (err != unix.EINVAL && err != unix.EACCES) {
		runtime.KeepAlive(code)
		return fd, err
	}
	log := make([]byte, 64<<10)
	attr.logLevel = 1
	attr.logSize = uint32(len(log))
	attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
	fd, err2 := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(code)
	if err2 == nil {
		return fd, nil
	}
	if n := bytes.IndexByte(log, 0); n > 0 {
		return -1, fmt.Errorf("%w: verifier: %s", err2, log[:n])
	}
	return -1, err2
}

// attachedPrograms lists the ids of the device programs attached to the
// cgroup dirFd, and the flags they were attached with.
func attachedPrograms(dirFd int) (ids []uint32, flags uint32, err error) {
	// A cgroup holds at most 64 programs of one type.
	buf := make([]uint32, 64)
	attr := progQueryAttr{
		targetFd:   uint32(dirFd),
		attachType: unix.BPF_CGROUP_DEVICE,
		progIDs:    uint64(uintptr(unsafe.Pointer(&buf[0]))),
		progCount:  uint32(len(buf)),
	}
	if _, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return nil, 0, fmt.Errorf("query the device programs attached: %w", err)
	}
	runtime.KeepAlive(buf)
	return buf[:attr.progCount], attr.attachFlags, nil
}

// attach makes prog the cgroup dirFd's only device program: attached
// beside those already there, which are then detached, so that at no
// moment is the cgroup without a filter.
func attach(dirFd, prog int) error {
	old, oldFlags, err := attachedPrograms(dirFd)
	if err != nil {
		return err
	}
	flags := uint32(unix.BPF_F_ALLOW_MULTI)
	if len(old) > 0 && oldFlags&unix.BPF_F_ALLOW_MULTI == 0 {
		// A program attached alone is replaced by attaching another
		// with the same flags.
		flags = oldFlags
	}
	attr := progAttachAttr{targetFd: uint32(dirFd), attachBpfFd: uint32(prog), attachType: unix.BPF_CGROUP_DEVICE, attachFlags: flags}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("attach the device program: %w", err)
	}
	if flags&unix.BPF_F_ALLOW_MULTI == 0 {
		return nil
	}
	for _, id := range old {
		get := progGetFdAttr{progID: id}
		fd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&get), unsafe.Sizeof(get))
		if err != nil {
			if err == unix.ENOENT {
				continue // gone meanwhile
			}
			return fmt.Errorf("open the device program %d attached before: %w", id, err)
		}
		detach := progAttachAttr{targetFd: uint32(dirFd), attachBpfFd: uint32(fd), attachType: unix.BPF_CGROUP_DEVICE}
		_, err = bpf(unix.BPF_PROG_DETACH, unsafe.Pointer(&detach), unsafe.Sizeof(detach))
		unix.Close(fd)
		if err != nil && err != unix.ENOENT {
			return fmt.Errorf("detach the device program %d attached before: %w", id, err)
		}
	}
	return nil
}

// setV2 is the v2 Set for the cgroup library (cgroups.DevicesSetV2): the
// rules become one eBPF program on the cgroup dir.
func setV2(dir string, r *cgroups.Resources) error {
	if r.SkipDevices {
		return nil
	}
	m, err := NewModel(r.Devices)
	if err != nil {
		return err
	}
	err = attachModel(dir, m)
	if err != nil && canSkipBPFError(r.Devices) {
		return nil
	}
	return err
}

func attachModel(dir string, m *Model) error {
	prog, err := loadProgram(Program(m))
	if err != nil {
		return fmt.Errorf("load the device program: %w", err)
	}
	defer unix.Close(prog)
	dirFd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(dirFd)
	return attach(dirFd, prog)
}

// canSkipBPFError: without bpf(2) (in a user namespace, or without
// CAP_BPF and CAP_SYS_ADMIN) the rules can go unenforced only where they
// restrict nothing anyway, or in a user namespace, where the container
// cannot create device nodes and the host's are not reachable.
func canSkipBPFError(rules []*devices.Rule) bool {
	if userns.RunningInUserNS() {
		return true
	}
	for _, r := range rules {
		if !r.Allow || !isRWM(r.Permissions) {
			return false
		}
	}
	return true
}

func isRWM(p devices.Permissions) bool {
	var r, w, m bool
	for _, c := range p {
		r, w, m = r || c == 'r', w || c == 'w', m || c == 'm'
	}
	return r && w && m
}
