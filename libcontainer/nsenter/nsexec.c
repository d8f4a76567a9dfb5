/*
 * nsexec.c: the entry of `skiff init`. A constructor runs before the Go
 * runtime starts; when argv is "skiff init <fd>" it reads the init plan
 * from the socket <fd> and carries it out to the final execve(), so the
 * container's init never starts a Go runtime. For any other argv it
 * returns and the Go program runs as usual.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsenter.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

struct init_state st = {.sock = -1, .rootfd = -1, .procfd = -1};

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One sendmsg per frame: frames from stage 1 and the init never interleave. */
int send_frame(uint32_t type, const void *payload, size_t len)
{
	uint32_t hdr[2] = {type, (uint32_t)len};
	struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	if (st.sock < 0) {
		errno = EPIPE;
		return -1;
	}
	for (;;) {
		ssize_t n = sendmsg(st.sock, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if ((size_t)n != sizeof(hdr) + len) {
			errno = EIO;
			return -1;
		}
		return 0;
	}
}

/* Waits for MSG_ACK; a closed socket means the parent gave up: exit. */
void wait_ack(void)
{
	uint32_t hdr[2];
	if (read_all(st.sock, hdr, sizeof(hdr)) < 0)
		_exit(1);
	if (hdr[0] != MSG_ACK || hdr[1] != 0)
		fail(EPROTO, "protocol", "expected an ack, got frame %u", hdr[0]);
}

/* Appends a str field (u32 length, bytes, NUL) to buf at *off. */
static void put_str(char *buf, size_t cap, size_t *off, const char *s)
{
	size_t n = strlen(s);
	if (*off + 4 + n + 1 > cap)
		n = cap > *off + 5 ? cap - *off - 5 : 0;
	if (*off + 4 + n + 1 > cap)
		return;
	uint32_t n32 = (uint32_t)n;
	memcpy(buf + *off, &n32, 4);
	memcpy(buf + *off + 4, s, n);
	buf[*off + 4 + n] = '\0';
	*off += 4 + n + 1;
}

void fail(int err, const char *op, const char *fmt, ...)
{
	char detail[2048];
	char buf[4096];
	size_t off = 0;
	int32_t e = err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);

	memcpy(buf, &e, 4);
	memcpy(buf + 4, &st.step, 4);
	off = 8;
	put_str(buf, sizeof(buf), &off, op);
	put_str(buf, sizeof(buf), &off, detail);
	if (send_frame(MSG_ERROR, buf, off) < 0) {
		/* Nobody listens any more (after `start`): say it on stderr. */
		dprintf(2, "skiff: %s: %s: %s\n", op, detail, strerror(err));
	}
	_exit(err == ENOENT ? 127 : 1);
}

/* MSG_LOG {u32 level; str msg}; best effort: after `start` nobody listens. */
static void log_parent(uint32_t level, const char *fmt, va_list ap)
{
	char msg[1024];
	char buf[1100];
	size_t off = 4;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	memcpy(buf, &level, 4);
	put_str(buf, sizeof(buf), &off, msg);
	send_frame(MSG_LOG, buf, off);
}

void warnx_parent(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_parent(LOG_LEVEL_WARN, fmt, ap);
	va_end(ap);
}

/* Shown by the parent with --debug only. */
void debug_parent(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_parent(LOG_LEVEL_DEBUG, fmt, ap);
	va_end(ap);
}

static void malformed(const char *what)
{
	fail(EINVAL, "decode init plan", "malformed record: %s", what);
}

uint32_t cur_u32(struct cursor *c)
{
	uint32_t v;
	if (c->left < 4)
		malformed("short u32");
	memcpy(&v, c->p, 4);
	c->p += 4;
	c->left -= 4;
	return v;
}

uint64_t cur_u64(struct cursor *c)
{
	uint64_t v;
	if (c->left < 8)
		malformed("short u64");
	memcpy(&v, c->p, 8);
	c->p += 8;
	c->left -= 8;
	return v;
}

/* Returns a pointer into the record: the NUL was checked to be there. */
const char *cur_str(struct cursor *c)
{
	uint32_t n = cur_u32(c);
	const char *s = (const char *)c->p;
	if ((size_t)n >= c->left || s[n] != '\0' || memchr(s, '\0', n) != NULL)
		malformed("bad string");
	c->p += (size_t)n + 1;
	c->left -= (size_t)n + 1;
	return s;
}

const uint8_t *cur_blob(struct cursor *c, uint32_t *len)
{
	uint32_t n = cur_u32(c);
	const uint8_t *b = c->p;
	if ((size_t)n > c->left)
		malformed("bad blob");
	c->p += n;
	c->left -= n;
	*len = n;
	return b;
}

void cur_end(struct cursor *c)
{
	if (c->left != 0)
		malformed("trailing bytes");
}

/* The namespaces to join, opened by open_ns_joins before any is joined:
 * once stage 1 is in a container's user namespace it can no longer open
 * the namespace files of that container's init, which is not dumpable
 * until it execs (exec into a created container). */
static int ns_join_fds[16];
static unsigned n_ns_join_fds, next_ns_join_fd;

/* next_record takes the next record off the plan: its kind, and a cursor
 * over its fields. */
static struct cursor next_record(struct cursor *plan, uint32_t *kind)
{
	*kind = cur_u32(plan);
	uint32_t n = cur_u32(plan);
	if (n > plan->left)
		malformed("record longer than the plan");
	struct cursor rec = {plan->p, n};
	plan->p += n;
	plan->left -= n;
	return rec;
}

static void open_ns_joins(struct cursor plan, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		uint32_t kind;
		struct cursor rec = next_record(&plan, &kind);
		if (kind != REC_NS_JOIN)
			continue;
		st.step = i;
		(void)cur_u32(&rec);
		const char *path = cur_str(&rec);
		if (n_ns_join_fds == sizeof(ns_join_fds) / sizeof(ns_join_fds[0]))
			fail(E2BIG, "open namespace", "more than %u namespaces to join", n_ns_join_fds);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail(errno, "open namespace", "%s", path);
		ns_join_fds[n_ns_join_fds++] = fd;
	}
}

static void do_ns_join(struct cursor *c)
{
	uint32_t type = cur_u32(c);
	const char *path = cur_str(c);
	cur_end(c);
	if (next_ns_join_fd >= n_ns_join_fds)
		malformed("namespace join not opened");
	int fd = ns_join_fds[next_ns_join_fd++];
	if (setns(fd, (int)type) < 0)
		fail(errno, "setns", "%s", path);
	close(fd);
}

/* Cgroup files opened by REC_CGROUP_JOIN with "later", written by
 * REC_CGROUP_JOIN_KEPT. */
static int kept_cgroup_fds[32];
static unsigned n_kept_cgroup_fds;

/* A process moves itself into a cgroup: "0" in a v1 tasks file is the
 * writing thread, which the kernel moves without its global threadgroup
 * lock (and the RCU grace period taking that lock costs). Stage 1 and
 * what it forks have one thread each, so that is the whole process.
 * The kernel checks the opener's rights, so a file opened before the
 * namespaces are joined can be written from inside them (exec). */
static void do_cgroup_join(struct cursor *c)
{
	const char *dir = cur_str(c);
	uint32_t later = cur_u32(c);
	cur_end(c);
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		fail(errno, "join cgroup", "open %s", dir);
	int fd = openat(dfd, "tasks", O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		fail(errno, "join cgroup", "open %s/tasks", dir);
	if (later) {
		if (n_kept_cgroup_fds == sizeof(kept_cgroup_fds) / sizeof(kept_cgroup_fds[0]))
			fail(E2BIG, "join cgroup", "more than %u cgroups", n_kept_cgroup_fds);
		kept_cgroup_fds[n_kept_cgroup_fds++] = fd;
		return;
	}
	if (write(fd, "0", 1) != 1)
		fail(errno, "join cgroup", "write 0 to %s/tasks", dir);
	close(fd);
}

static void do_cgroup_join_kept(struct cursor *c)
{
	cur_end(c);
	for (unsigned i = 0; i < n_kept_cgroup_fds; i++) {
		if (write(kept_cgroup_fds[i], "0", 1) != 1)
			fail(errno, "join cgroup", "write 0 to cgroup file %u", i);
		close(kept_cgroup_fds[i]);
	}
	n_kept_cgroup_fds = 0;
}

static void do_ns_unshare(struct cursor *c)
{
	uint32_t flags = cur_u32(c);
	cur_end(c);
	if (flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			fail(errno, "unshare", "user namespace");
		if (send_frame(MSG_USERMAP_REQ, NULL, 0) < 0)
			fail(errno, "sync", "ask for uid/gid maps");
		wait_ack();
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			fail(errno, "setresuid", "become root in the user namespace");
		flags &= ~(uint32_t)CLONE_NEWUSER;
	}
	if (flags && unshare((int)flags) < 0)
		fail(errno, "unshare", "namespaces 0x%x", flags);
	if (flags & CLONE_NEWTIME) {
		if (send_frame(MSG_TIMENS_REQ, NULL, 0) < 0)
			fail(errno, "sync", "ask for time offsets");
		wait_ack();
	}
}

/*
 * Stage 1 ends here: the child goes on as the init, stage 1 leaves.
 * CLONE_PARENT makes the init a child of skiff itself, so `run` and
 * `exec` wait for it directly, with or without being a subreaper.
 */
static void do_fork_init(struct cursor *c)
{
	cur_end(c);
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		fail(errno, "fork", "the init");
	if (pid > 0)
		_exit(0);
}

static void do_sync(struct cursor *c)
{
	uint32_t tag = cur_u32(c);
	cur_end(c);
	if (send_frame(MSG_SYNC_REQ, &tag, sizeof(tag)) < 0)
		fail(errno, "sync", "tag %u", tag);
	wait_ack();
}

static void run_record(uint32_t kind, struct cursor *c)
{
	switch (kind) {
	case REC_CGROUP_JOIN: do_cgroup_join(c); break;
	case REC_CGROUP_JOIN_KEPT: do_cgroup_join_kept(c); break;
	case REC_NS_JOIN: do_ns_join(c); break;
	case REC_NS_UNSHARE: do_ns_unshare(c); break;
	case REC_FORK_INIT: do_fork_init(c); break;
	case REC_SETSID:
		cur_end(c);
		if (setsid() < 0)
			fail(errno, "setsid", "new session");
		break;
	case REC_ROOTFS: do_rootfs(c); break;
	case REC_MOUNT_BIND: do_mount_bind(c); break;
	case REC_MOUNT_FS: do_mount_fs(c); break;
	case REC_MOUNT_SETATTR: do_mount_setattr(c); break;
	case REC_DEVICE: do_device(c); break;
	case REC_SYMLINK: do_symlink(c); break;
	case REC_PIVOT_ROOT: do_pivot_root(c); break;
	case REC_CHROOT: {
		const char *path = cur_str(c);
		cur_end(c);
		if (chdir(path) < 0 || chroot(".") < 0 || chdir("/") < 0)
			fail(errno, "chroot", "%s", path);
		break;
	}
	case REC_MASK_PATH: do_mask_path(c); break;
	case REC_READONLY_PATH: do_readonly_path(c); break;
	case REC_ROOT_READONLY: do_root_readonly(c); break;
	case REC_SYSCTL: do_sysctl(c); break;
	case REC_HOSTNAME: do_hostname(c, 0); break;
	case REC_DOMAINNAME: do_hostname(c, 1); break;
	case REC_RLIMIT: do_rlimit(c); break;
	case REC_SYNC: do_sync(c); break;
	case REC_CAPS_BOUNDING: do_caps_bounding(c); break;
	case REC_USER: do_user(c); break;
	case REC_CAPS: do_caps(c); break;
	case REC_NO_NEW_PRIVS:
		cur_end(c);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			fail(errno, "prctl", "no_new_privs");
		break;
	case REC_UMASK:
		umask((mode_t)cur_u32(c));
		cur_end(c);
		break;
	case REC_CWD: do_cwd(c); break;
	case REC_CLOSE_FDS: {
		/* Everything the init opened itself (root, procfs, ...) is
		 * above the socket: nothing of skiff's is left for the wait. */
		uint32_t first = cur_u32(c);
		cur_end(c);
		if (syscall(SYS_close_range, first, ~0U, 0) < 0)
			fail(errno, "close_range", "from fd %u", first);
		st.rootfd = st.procfd = -1;
		break;
	}
	case REC_EXEC_RESOLVE: do_exec_resolve(c); break;
	case REC_WAIT_EXEC_FIFO: do_wait_exec_fifo(c); break;
	case REC_SECCOMP: do_seccomp(c); break;
	case REC_EXEC: do_exec(c);
	case REC_REPORT_PID:
		cur_end(c);
		if (send_frame(MSG_PID, NULL, 0) < 0)
			fail(errno, "sync", "report pid");
		break;
	case REC_CONSOLE: do_console(c); break;
	case REC_IOPRIORITY: do_ioprio(c); break;
	case REC_SCHED_ATTR: do_sched_attr(c); break;
	case REC_PERSONALITY: do_personality(c); break;
	case REC_CPU_AFFINITY: do_cpu_affinity(c); break;
	case REC_MEMORY_POLICY: do_mempolicy(c); break;
	case REC_EXEC_LABEL: do_exec_label(c); break;
	case REC_SESSION_KEYRING: do_session_keyring(c); break;
	default:
		fail(EINVAL, "decode init plan", "unknown record kind %u", kind);
	}
}

static void run_plan(uint8_t *buf, size_t len)
{
	struct cursor c = {buf, len};
	uint32_t magic = cur_u32(&c), version = cur_u32(&c), count = cur_u32(&c);

	if (magic != SKIFF_PLAN_MAGIC || version != SKIFF_PLAN_VERSION)
		fail(EPROTO, "decode init plan", "bad magic or version %u", version);
	open_ns_joins(c, count);
	for (st.step = 0; st.step < count; st.step++) {
		uint32_t kind;
		struct cursor rec = next_record(&c, &kind);
		time_step(st.step);
		run_record(kind, &rec);
	}
	cur_end(&c);
	_exit(0);
}

#ifndef __GLIBC__
/*
 * musl does not pass argc and argv to constructors, but its start-up
 * has just set environ to argv + argc + 1 on the process's initial
 * stack, with argc in the word before argv[0]. Walking back from
 * environ finds argc: the first slot holding the small integer k, k
 * slots before the NULL that ends argv (no argv pointer is that small).
 */
extern char **environ;
static int initial_args(char ***argv)
{
	char **end = environ - 1; /* argv[argc], NULL */
	for (long k = 0; k < 4096; k++) {
		if ((long)end[-k - 1] == k) {
			*argv = end - k;
			return (int)k;
		}
	}
	return 0;
}
#endif

/*
 * The commands that end within milliseconds (a foreground exec ends with
 * its process, but it is mostly the short probes of engines): their RSS
 * matters little, their start-up a lot (hugeheap.c, pageprofile.c).
 */
static int ends_quickly(const char *cmd)
{
	static const char *const quick[] = { "create", "delete", "exec",  "kill",  "list",  "pause",
					     "ps",     "resume", "start", "state", "update" };
	for (size_t i = 0; i < sizeof(quick) / sizeof(quick[0]); i++)
		if (strcmp(cmd, quick[i]) == 0)
			return 1;
	return 0;
}

/*
 * glibc passes (argc, argv, envp) to constructors. This runs in every
 * skiff process, so it must cost nothing unless argv says "init".
 */
__attribute__((constructor)) static void skiff_nsenter(int argc, char **argv, char **envp)
{
	(void)envp;
#ifndef __GLIBC__
	argc = initial_args(&argv);
#endif
	const char *cmd = skiff_command_of(argc, argv);
	skiff_start_mask(cmd);
	if (argc != 3 || strcmp(argv[1], "init") != 0) {
		skiff_raise_timerslack();
		skiff_narrow_affinity(cmd);
		if (cmd == NULL)
			return;
		/* The commands that live as long as a container does. */
		if (strcmp(cmd, "run") == 0 || strcmp(cmd, "events") == 0) {
			skiff_heap_pages(0);
			skiff_no_fault_around(strcmp(cmd, "run") == 0);
		} else if (ends_quickly(cmd)) {
			skiff_heap_pages(1);
			skiff_map_profiled_pages(cmd);
		}
		return;
	}
	time_start();

	char *end = NULL;
	long fd = strtol(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || fd < 3 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0) {
		dprintf(2, "skiff init: this is skiff's internal init and is not meant to be run by hand\n");
		_exit(1);
	}
	st.sock = (int)fd;
	fcntl(st.sock, F_SETFD, FD_CLOEXEC);
	/* The socket is the last fd skiff passes: anything above it leaked
	 * into skiff from its caller and must not reach the container. */
	if (syscall(SYS_close_range, st.sock + 1, ~0U, 0) < 0)
		_exit(1);
	/* Nothing in the container may ptrace or open /proc/PID/ of this
	 * process until execve() gives it the container's identity. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	uint32_t hdr[2];
	if (read_all(st.sock, hdr, sizeof(hdr)) < 0)
		_exit(1);
	if (hdr[0] != MSG_BOOTSTRAP || hdr[1] > SKIFF_MAX_FRAME || hdr[1] < 12)
		fail(EPROTO, "read init plan", "bad bootstrap frame %u (%u bytes)", hdr[0], hdr[1]);
	uint8_t *buf = malloc(hdr[1]);
	if (buf == NULL)
		fail(ENOMEM, "read init plan", "%u bytes", hdr[1]);
	if (read_all(st.sock, buf, hdr[1]) < 0)
		fail(errno, "read init plan", "%u bytes", hdr[1]);
	run_plan(buf, hdr[1]);
}
