package initplan

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The C stage and the Go parent must agree on every number.
func TestWireConstantsMatchHeader(t *testing.T) {
	f, err := os.Open("../nsenter/wire.h")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	header := map[string]uint64{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 3 || fields[0] != "#define" {
			continue
		}
		v := strings.TrimSuffix(fields[2], "u")
		if strings.HasPrefix(fields[2], "(") {
			v = strings.Trim(strings.Join(fields[2:], ""), "()")
			if a, b, ok := strings.Cut(v, "u<<"); ok {
				x, _ := strconv.ParseUint(a, 0, 64)
				y, _ := strconv.ParseUint(b, 0, 64)
				header[fields[1]] = x << y
				continue
			}
		}
		n, err := strconv.ParseUint(v, 0, 64)
		if err != nil {
			continue
		}
		header[fields[1]] = n
	}
	want := map[string]uint64{
		"SKIFF_PLAN_MAGIC": PlanMagic, "SKIFF_PLAN_VERSION": PlanVersion, "SKIFF_MAX_FRAME": MaxFrame,
		"MSG_BOOTSTRAP": MsgBootstrap, "MSG_ACK": MsgAck, "MSG_USERMAP_REQ": MsgUsermapReq,
		"MSG_TIMENS_REQ": MsgTimensReq, "MSG_SYNC_REQ": MsgSyncReq, "MSG_READY": MsgReady,
		"MSG_ERROR": MsgError, "MSG_LOG": MsgLog, "MSG_PID": MsgPid, "MSG_PTY_MASTER": MsgPtyMaster, "MSG_SECCOMP_FD": MsgSeccompFd, "MSG_STEP_TIMES": MsgStepTimes,
		"REC_NS_JOIN": recNSJoin, "REC_NS_UNSHARE": recNSUnshare, "REC_FORK_INIT": recForkInit,
		"REC_SETSID": recSetsid, "REC_ROOTFS": recRootfs, "REC_MOUNT_BIND": recMountBind,
		"REC_MOUNT_FS": recMountFS, "REC_DEVICE": recDevice, "REC_SYMLINK": recSymlink,
		"REC_PIVOT_ROOT": recPivotRoot, "REC_MASK_PATH": recMaskPath, "REC_READONLY_PATH": recReadonlyPath,
		"REC_ROOT_READONLY": recRootReadonly, "REC_SYSCTL": recSysctl, "REC_HOSTNAME": recHostname,
		"REC_DOMAINNAME": recDomainname, "REC_RLIMIT": recRlimit, "REC_SYNC": recSync,
		"REC_CAPS_BOUNDING": recCapsBounding, "REC_USER": recUser, "REC_CAPS": recCaps,
		"REC_NO_NEW_PRIVS": recNoNewPrivs, "REC_UMASK": recUmask, "REC_CWD": recCwd,
		"REC_CLOSE_FDS": recCloseFds, "REC_EXEC_RESOLVE": recExecResolve,
		"REC_WAIT_EXEC_FIFO": recWaitExecFifo, "REC_SECCOMP": recSeccomp, "REC_EXEC": recExec,
		"REC_REPORT_PID": recReportPid, "REC_CONSOLE": recConsole, "REC_MOUNT_SETATTR": recMountSetattr, "REC_CHROOT": recChroot, "REC_IOPRIORITY": recIOPriority, "REC_SCHED_ATTR": recSchedAttr,
		"REC_PERSONALITY": recPersonality, "REC_CPU_AFFINITY": recCPUAffinity, "REC_MEMORY_POLICY": recMemoryPolicy, "REC_EXEC_LABEL": recExecLabel, "REC_SESSION_KEYRING": recSessionKeyring, "REC_CGROUP_JOIN": recCgroupJoin, "REC_CGROUP_JOIN_KEPT": recCgroupJoinKept,
		"FSPARAM_FLAG": fsParamFlag, "FSPARAM_STRING": fsParamString, "BIND_RECURSIVE": bindRecursive,
		"LOG_LEVEL_WARN": LogLevelWarn, "LOG_LEVEL_DEBUG": LogLevelDebug,
	}
	for name, v := range want {
		got, ok := header[name]
		if !ok {
			t.Errorf("wire.h lacks %s", name)
			continue
		}
		if got != v {
			t.Errorf("%s: wire.h says %d, Go says %d", name, got, v)
		}
	}
	for name := range header {
		if _, ok := want[name]; !ok && name != "SKIFF_WIRE_H" {
			t.Errorf("wire.h defines %s, unknown to the Go side", name)
		}
	}
}

func TestEncodeRejectsNUL(t *testing.T) {
	_, err := Encode(&Plan{Steps: []Step{Hostname{Name: "a\x00b"}}})
	if err == nil {
		t.Fatal("a NUL inside a string must not be encoded")
	}
}

func TestEncodeLayout(t *testing.T) {
	b, err := Encode(&Plan{Steps: []Step{Hostname{Name: "ab"}}})
	if err != nil {
		t.Fatal(err)
	}
	// header(12) + record header(8) + u32 len(4) + "ab\0"(3)
	if len(b) != 27 {
		t.Fatalf("encoded %d bytes: %v", len(b), b)
	}
	if b[20] != 2 || string(b[24:27]) != "ab\x00" {
		t.Fatalf("bad string field: %v", b[20:])
	}
}
