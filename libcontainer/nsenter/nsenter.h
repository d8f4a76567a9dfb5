/*
 * nsenter.h: what the C stage's files share. The C stage carries out an
 * init plan made by the Go parent (libcontainer/initplan); it decides
 * nothing itself. See initplan/wire.go for the protocol.
 */
#ifndef SKIFF_NSENTER_H
#define SKIFF_NSENTER_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* A read position inside one record; every read is bounds-checked. */
struct cursor {
	const uint8_t *p;
	size_t left;
};

/* What the init keeps between steps. */
struct init_state {
	int sock;            /* socketpair to the parent, -1 once closed */
	int rootfd;          /* the container's root directory (a mount root) */
	int procfd;          /* private procfs instance, -1 until needed */
	uint32_t step;       /* index of the record being carried out */
	char exec_path[4096];/* what REC_EXEC_RESOLVE found */
};

extern struct init_state st;

/* wire I/O (nsexec.c) */
int send_frame(uint32_t type, const void *payload, size_t len);
void wait_ack(void);
void fail(int err, const char *op, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
void warnx_parent(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void debug_parent(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cursor reads; each fails the init on a malformed record */
uint32_t cur_u32(struct cursor *c);
uint64_t cur_u64(struct cursor *c);
const char *cur_str(struct cursor *c);
const uint8_t *cur_blob(struct cursor *c, uint32_t *len);
void cur_end(struct cursor *c);

/* rootfs.c */
void do_rootfs(struct cursor *c);
void do_mount_bind(struct cursor *c);
void do_mount_fs(struct cursor *c);
void do_mount_setattr(struct cursor *c);
void do_device(struct cursor *c);
void do_symlink(struct cursor *c);
void do_pivot_root(struct cursor *c);
void do_mask_path(struct cursor *c);
void do_readonly_path(struct cursor *c);
void do_root_readonly(struct cursor *c);
int open_in_root(const char *path, int flags, uint64_t resolve);
int mkdir_p_in_root(const char *path, int dir, uint64_t resolve);
int proc_handle(void);
int proc_open(const char *path, int flags);

/* timerslack.c */
extern unsigned long skiff_caller_timerslack;
void skiff_raise_timerslack(void);
void skiff_timerslack_caller(void);
void skiff_timerslack_raised(void);

/* signals.c */
const char *skiff_command_of(int argc, char **argv);
void skiff_start_mask(const char *cmd);

/* maxprocs.c */
void skiff_narrow_affinity(const char *cmd);
void skiff_restore_affinity(void);

/* faultaround.c */
struct range {
	unsigned long start, end;
};
void skiff_no_fault_around(int learn_profile);
void skiff_map_profiled_pages(const char *cmd);
void skiff_drop_startup_pages(void);

/* hugeheap.c */
void skiff_heap_pages(int huge);

/* pageprofile.c */
#define MAX_PROFILE_RANGES 4
enum profile_state { PROFILE_OFF, PROFILE_LOADED, PROFILE_RECORDING };
enum profile_state skiff_page_profile_start(int exe_fd, unsigned long bias, const struct range *ranges, int n,
					    const char *cmd, int with_fault_around);
void skiff_page_profile_cancel(void);
void skiff_page_profile_before_drop(void);
void skiff_page_profile_after_drop(void);
void skiff_page_profile_save(void);

/* resolve.c */
int openat2_or_walk(int dirfd, const char *path, int flags, uint64_t resolve);
int open_beneath_root(int rootfd, const char *path, int flags, uint64_t resolve);
int mkdir_p_beneath_root(int rootfd, const char *path, int dir, uint64_t resolve);

/* trace.c */
void time_start(void);
void time_step(uint32_t step);
void send_step_times(void);

/* process.c */
void do_sysctl(struct cursor *c);
void do_hostname(struct cursor *c, int domain);
void do_rlimit(struct cursor *c);
void do_caps_bounding(struct cursor *c);
void do_user(struct cursor *c);
void do_caps(struct cursor *c);
void do_cwd(struct cursor *c);
void do_exec_resolve(struct cursor *c);
void do_wait_exec_fifo(struct cursor *c);
void do_seccomp(struct cursor *c);
void do_exec(struct cursor *c) __attribute__((noreturn));
void do_console(struct cursor *c);
void do_ioprio(struct cursor *c);
void do_sched_attr(struct cursor *c);
void do_personality(struct cursor *c);
void do_cpu_affinity(struct cursor *c);
void do_mempolicy(struct cursor *c);
void do_exec_label(struct cursor *c);
void do_session_keyring(struct cursor *c);

#endif
