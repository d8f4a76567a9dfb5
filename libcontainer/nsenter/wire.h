/*
 * wire.h: the numbers of skiff's parent <-> init protocol, shared by the C
 * stage and (as constants checked by a Go test against this file) by
 * libcontainer/initplan/wire.go, which documents the protocol as a table.
 * Change both together and bump SKIFF_PLAN_VERSION.
 */
#ifndef SKIFF_WIRE_H
#define SKIFF_WIRE_H

#define SKIFF_PLAN_MAGIC 0x736b6966u /* "skif" */
#define SKIFF_PLAN_VERSION 1u
#define SKIFF_MAX_FRAME (16u << 20)

/* Frame types, parent -> init. */
#define MSG_BOOTSTRAP 1
#define MSG_ACK 2

/* Frame types, init -> parent. */
#define MSG_USERMAP_REQ 16
#define MSG_TIMENS_REQ 17
#define MSG_SYNC_REQ 18
#define MSG_READY 19
#define MSG_ERROR 20
#define MSG_LOG 21
#define MSG_PID 22
#define MSG_PTY_MASTER 23
#define MSG_SECCOMP_FD 24
#define MSG_STEP_TIMES 25

/* Stage-1 records: run by the first child, in the caller's pid namespace. */
#define REC_NS_JOIN 1
#define REC_NS_UNSHARE 2
#define REC_FORK_INIT 3

/* Stage-2 records: run by the init, step by step. */
#define REC_SETSID 10
#define REC_ROOTFS 11
#define REC_MOUNT_BIND 12
#define REC_MOUNT_FS 13
#define REC_DEVICE 14
#define REC_SYMLINK 15
#define REC_PIVOT_ROOT 16
#define REC_MASK_PATH 17
#define REC_READONLY_PATH 18
#define REC_ROOT_READONLY 19
#define REC_SYSCTL 20
#define REC_HOSTNAME 21
#define REC_DOMAINNAME 22
#define REC_RLIMIT 23
#define REC_SYNC 24
#define REC_CAPS_BOUNDING 25
#define REC_USER 26
#define REC_CAPS 27
#define REC_NO_NEW_PRIVS 28
#define REC_UMASK 29
#define REC_CWD 30
#define REC_CLOSE_FDS 31
#define REC_EXEC_RESOLVE 32
#define REC_WAIT_EXEC_FIFO 33
#define REC_SECCOMP 34
#define REC_EXEC 35
#define REC_REPORT_PID 36
#define REC_CONSOLE 37
#define REC_MOUNT_SETATTR 38
#define REC_CHROOT 39
#define REC_IOPRIORITY 40
#define REC_SCHED_ATTR 41
#define REC_PERSONALITY 42
#define REC_CPU_AFFINITY 43
#define REC_MEMORY_POLICY 44
#define REC_EXEC_LABEL 45
#define REC_SESSION_KEYRING 46
#define REC_CGROUP_JOIN 47
#define REC_CGROUP_JOIN_KEPT 48

/* fsconfig parameter kinds in REC_MOUNT_FS. */
#define FSPARAM_FLAG 0
#define FSPARAM_STRING 1

/* REC_MOUNT_BIND flags. */
#define BIND_RECURSIVE 1u

/* Log levels in MSG_LOG. */
#define LOG_LEVEL_WARN 1
#define LOG_LEVEL_DEBUG 2

#endif
