/*
 * process.c: the init's process steps: kernel parameters, identity,
 * capabilities, working directory, waiting for `start`, seccomp, execve.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsenter.h"

#define MAX_ARGS 65536

void do_sysctl(struct cursor *c)
{
	const char *key = cur_str(c);
	const char *value = cur_str(c);
	cur_end(c);
	char path[4096];
	if (snprintf(path, sizeof(path), "sys/%s", key) >= (int)sizeof(path))
		fail(ENAMETOOLONG, "sysctl", "%s", key);
	int fd = proc_open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		fail(errno, "sysctl", "open /proc/%s", path);
	size_t n = strlen(value);
	if (write(fd, value, n) != (ssize_t)n)
		fail(errno, "sysctl", "write %s to /proc/%s", value, path);
	close(fd);
}

void do_hostname(struct cursor *c, int domain)
{
	const char *name = cur_str(c);
	cur_end(c);
	int r = domain ? setdomainname(name, strlen(name)) : sethostname(name, strlen(name));
	if (r < 0)
		fail(errno, domain ? "setdomainname" : "sethostname", "%s", name);
}

void do_rlimit(struct cursor *c)
{
	uint32_t res = cur_u32(c);
	struct rlimit rl;
	rl.rlim_cur = cur_u64(c);
	rl.rlim_max = cur_u64(c);
	cur_end(c);
	if (prlimit(0, (int)res, &rl, NULL) < 0)
		fail(errno, "setrlimit", "resource %u to %llu/%llu", res, (unsigned long long)rl.rlim_cur,
		     (unsigned long long)rl.rlim_max);
}

void do_caps_bounding(struct cursor *c)
{
	uint64_t keep = cur_u64(c);
	uint32_t last = cur_u32(c);
	cur_end(c);
	if (last > 63)
		fail(EINVAL, "capabilities", "last capability %u", last);
	for (uint32_t i = 0; i <= last; i++) {
		if (keep & (1ULL << i))
			continue;
		if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL)
			fail(errno, "capabilities", "drop %u from the bounding set", i);
	}
}

void do_user(struct cursor *c)
{
	uint32_t uid = cur_u32(c), gid = cur_u32(c), setgroups_ok = cur_u32(c), n = cur_u32(c);
	if (n > 65536 || (size_t)n * 4 != c->left)
		fail(EINVAL, "decode init plan", "bad group list");
	gid_t *groups = malloc(sizeof(gid_t) * (n ? n : 1));
	if (groups == NULL)
		fail(ENOMEM, "user", "groups");
	for (uint32_t i = 0; i < n; i++)
		groups[i] = cur_u32(c);
	cur_end(c);
	if (setgroups_ok && setgroups(n, groups) < 0)
		fail(errno, "setgroups", "%u groups", n);
	free(groups);
	if (setresgid(gid, gid, gid) < 0)
		fail(errno, "setresgid", "%u", gid);
	/* Keep the permitted set across the uid change; REC_CAPS sets it. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail(errno, "prctl", "keepcaps");
	if (setresuid(uid, uid, uid) < 0)
		fail(errno, "setresuid", "%u", uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		fail(errno, "prctl", "keepcaps");
}

void do_caps(struct cursor *c)
{
	uint64_t eff = cur_u64(c), perm = cur_u64(c), inh = cur_u64(c), amb = cur_u64(c);
	cur_end(c);
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {
		{(uint32_t)eff, (uint32_t)perm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32)},
	};
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail(errno, "capset", "effective 0x%llx permitted 0x%llx", (unsigned long long)eff,
		     (unsigned long long)perm);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail(errno, "prctl", "clear ambient capabilities");
	for (int i = 0; i < 64; i++) {
		if (!(amb & (1ULL << i)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
			warnx_parent("cannot raise ambient capability %d: %s", i, strerror(errno));
	}
}

void do_cwd(struct cursor *c)
{
	uint32_t create = cur_u32(c);
	const char *dir = cur_str(c);
	cur_end(c);
	if (create) {
		int fd = mkdir_p_in_root(dir, 1, 0);
		if (fd < 0)
			fail(errno, "mkdir", "cwd (\"%s\") set in config.json", dir);
		close(fd);
		return;
	}
	/* The root is the container's and no fd of skiff's is left open
	 * (REC_CLOSE_FDS came first): a plain chdir cannot leave the
	 * container, and it runs as the container's user. */
	if (chdir(dir) < 0)
		fail(errno, "chdir", "to cwd (\"%s\") set in config.json", dir);
}

static int is_executable(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) < 0)
		return -1;
	if (!S_ISREG(sb.st_mode)) {
		errno = EACCES;
		return -1;
	}
	/* The faccessat syscall, not glibc's (faccessat2 with AT_EACCESS):
	 * a seccomp profile may predate faccessat2. The init is not
	 * set-id, so real and effective ids are the same. */
	return (int)syscall(SYS_faccessat, AT_FDCWD, path, X_OK);
}

void do_exec_resolve(struct cursor *c)
{
	const char *arg0 = cur_str(c);
	const char *pathenv = cur_str(c);
	cur_end(c);
	if (strchr(arg0, '/') != NULL) {
		if (is_executable(arg0) < 0)
			fail(errno, "exec", "\"%s\": stat %s", arg0, arg0);
		if (strlen(arg0) >= sizeof(st.exec_path))
			fail(ENAMETOOLONG, "exec", "\"%s\"", arg0);
		strcpy(st.exec_path, arg0);
		return;
	}
	const char *p = pathenv;
	for (;;) {
		const char *end = strchrnul(p, ':');
		size_t dlen = (size_t)(end - p);
		int n = snprintf(st.exec_path, sizeof(st.exec_path), "%.*s/%s", (int)(dlen ? dlen : 1),
				 dlen ? p : ".", arg0);
		if (n > 0 && (size_t)n < sizeof(st.exec_path) && is_executable(st.exec_path) == 0)
			return;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	st.exec_path[0] = '\0';
	fail(ENOENT, "exec", "\"%s\": executable file not found in $PATH", arg0);
}

/*
 * The parent opened exec.fifo read-write for the init, so reading it
 * blocks until `skiff start` writes a byte, and needs no path, no procfs
 * and no privilege. The fd stays open, close-on-exec: `start` sees it
 * close at execve() and only then runs the poststart hooks.
 */
void do_wait_exec_fifo(struct cursor *c)
{
	uint32_t fifo = cur_u32(c);
	cur_end(c);
	if (fcntl((int)fifo, F_SETFD, FD_CLOEXEC) < 0)
		fail(errno, "exec fifo", "fd %u", fifo);
	send_step_times();
	if (send_frame(MSG_READY, NULL, 0) < 0)
		fail(errno, "sync", "report ready");
	wait_ack();
	close(st.sock);
	st.sock = -1;
	char byte;
	ssize_t n;
	do
		n = read((int)fifo, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		fail(n < 0 ? errno : EPIPE, "read", "exec fifo");
}

static void send_fd(uint32_t type, int fd);

void do_seccomp(struct cursor *c)
{
	uint32_t flags = cur_u32(c), len;
	const uint8_t *filter = cur_blob(c, &len);
	cur_end(c);
	if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > 65535)
		fail(EINVAL, "seccomp", "filter of %u bytes", len);
	struct sock_filter *insns = malloc(len);
	if (insns == NULL)
		fail(ENOMEM, "seccomp", "filter");
	memcpy(insns, filter, len);
	struct sock_fprog prog = {.len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = insns};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0)
		fail(errno, "seccomp", "load filter");
	free(insns);
	if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
		/* The parent passes the listener to the agent, then acks. */
		send_fd(MSG_SECCOMP_FD, (int)r);
		close((int)r);
		wait_ack();
	}
}

static char **strv(struct cursor *c)
{
	uint32_t n = cur_u32(c);
	if (n > MAX_ARGS || n > c->left / 5)
		fail(EINVAL, "decode init plan", "bad string list");
	char **v = calloc((size_t)n + 1, sizeof(char *));
	if (v == NULL)
		fail(ENOMEM, "exec", "argument list");
	for (uint32_t i = 0; i < n; i++)
		v[i] = (char *)cur_str(c);
	return v;
}

void do_exec(struct cursor *c)
{
	char **argv = strv(c);
	char **envp = strv(c);
	cur_end(c);
	const char *path = st.exec_path[0] ? st.exec_path : argv[0];
	if (path == NULL)
		fail(EINVAL, "exec", "no arguments");
	if (st.sock >= 0)
		send_step_times(); /* exec and hooks: the parent reads until execve */
	execve(path, argv, envp);
	fail(errno, "exec", "%s", path);
}

/* Sends fd to the parent with SCM_RIGHTS in a frame of its own. */
static void send_fd(uint32_t type, int fd)
{
	uint32_t hdr[2] = {type, 0};
	struct iovec iov = {hdr, sizeof(hdr)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(st.sock, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(hdr))
		fail(errno, "sync", "send fd to the parent");
}

/*
 * The pty is made inside the container, from its own devpts. The slave
 * is opened from the master (TIOCGPTPEER), never by a path the image
 * could redirect, and /dev/console is a bind of that very slave.
 */
void do_console(struct cursor *c)
{
	uint32_t rows = cur_u32(c), cols = cur_u32(c);
	cur_end(c);
	struct stat sb;
	int master = open_in_root("/dev/ptmx", O_RDWR | O_NOCTTY, 0);
	if (master < 0)
		fail(errno, "console", "open /dev/ptmx");
	if (fstat(master, &sb) < 0 || !S_ISCHR(sb.st_mode) || major(sb.st_rdev) != 5 || minor(sb.st_rdev) != 2)
		fail(EPERM, "console", "/dev/ptmx is not the pty multiplexer");
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		fail(errno, "console", "unlock pty");
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		fail(errno, "console", "open pty slave");
	if (rows || cols) {
		struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
		if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
			fail(errno, "console", "set window size");
	}
	int console = mkdir_p_in_root("/dev/console", 0, RESOLVE_NO_SYMLINKS);
	if (console < 0)
		fail(errno, "console", "create /dev/console");
	int tree = (int)syscall(SYS_open_tree, slave, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		fail(errno, "console", "clone the pty slave");
	if (syscall(SYS_move_mount, tree, "", console, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		fail(errno, "console", "bind the pty slave on /dev/console");
	close(tree);
	close(console);
	send_fd(MSG_PTY_MASTER, master);
	close(master);
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		fail(errno, "console", "make the pty the controlling terminal");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			fail(errno, "console", "dup the pty slave to fd %d", fd);
	close(slave);
}

void do_ioprio(struct cursor *c)
{
	uint32_t v = cur_u32(c);
	cur_end(c);
	if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, v) < 0)
		fail(errno, "ioprio_set", "process.ioPriority 0x%x", v);
}

void do_sched_attr(struct cursor *c)
{
	uint32_t len;
	const uint8_t *b = cur_blob(c, &len);
	cur_end(c);
	uint64_t attr[8];
	if (len != 56)
		fail(EINVAL, "decode init plan", "sched_attr of %u bytes", len);
	memcpy(attr, b, len);
	if (syscall(SYS_sched_setattr, 0, attr, 0) < 0)
		fail(errno, "sched_setattr", "process.scheduler");
}

void do_personality(struct cursor *c)
{
	uint64_t p = cur_u64(c);
	cur_end(c);
	if (personality((unsigned long)p) < 0)
		fail(errno, "personality", "linux.personality 0x%llx", (unsigned long long)p);
}

void do_cpu_affinity(struct cursor *c)
{
	uint32_t len;
	const uint8_t *b = cur_blob(c, &len);
	cur_end(c);
	cpu_set_t set;
	if (len == 0 || len > sizeof(set))
		fail(EINVAL, "sched_setaffinity", "mask of %u bytes", len);
	memset(&set, 0, sizeof(set));
	memcpy(&set, b, len);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fail(errno, "sched_setaffinity", "process.execCPUAffinity");
}

void do_mempolicy(struct cursor *c)
{
	uint32_t mode = cur_u32(c), len;
	uint64_t maxnode = cur_u64(c);
	const uint8_t *b = cur_blob(c, &len);
	cur_end(c);
	if (len % 8 || len > 8192 || maxnode > (uint64_t)len * 8 + 1)
		fail(EINVAL, "decode init plan", "node mask of %u bytes", len);
	unsigned long *mask = calloc(len / 8 + 1, 8);
	if (mask == NULL)
		fail(ENOMEM, "set_mempolicy", "node mask");
	memcpy(mask, b, len);
	if (syscall(SYS_set_mempolicy, mode, mask, maxnode) < 0)
		fail(errno, "set_mempolicy", "linux.memoryPolicy");
	free(mask);
}

/* Writes an SELinux label to /proc/<self>/attr/<attr>. */
static void write_attr(const char *attr, const char *label)
{
	/* thread-self is a symlink: resolve it by hand to our own pid dir. */
	char path[64];
	snprintf(path, sizeof(path), "%d/attr/%s", (int)getpid(), attr);
	int fd = proc_open(path, O_WRONLY);
	if (fd < 0)
		fail(errno, "selinux", "open attr/%s", attr);
	size_t n = strlen(label);
	if (write(fd, label, n) != (ssize_t)n)
		fail(errno, "selinux", "set %s label \"%s\"", attr, label);
	close(fd);
}

void do_exec_label(struct cursor *c)
{
	const char *label = cur_str(c);
	cur_end(c);
	write_attr("exec", label);
}

/* The permission field of KEYCTL_DESCRIBE's "type;uid;gid;perm;desc". */
static int keyring_perm(long id, uint32_t *perm)
{
	char desc[512];
	long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof(desc) - 1, 0);
	if (n < 0)
		return -1;
	desc[(size_t)n < sizeof(desc) ? (size_t)n : sizeof(desc) - 1] = '\0';
	char *p = desc;
	for (int field = 0; field < 3; field++) {
		p = strchr(p, ';');
		if (p == NULL) {
			errno = EPROTO;
			return -1;
		}
		p++;
	}
	char *end = NULL;
	unsigned long v = strtoul(p, &end, 16);
	if (end == p || *end != ';' || v > 0xffffffffUL) {
		errno = EPROTO;
		return -1;
	}
	*perm = (uint32_t)v;
	return 0;
}

void do_session_keyring(struct cursor *c)
{
	const char *name = cur_str(c);
	uint32_t search = cur_u32(c);
	const char *label = cur_str(c);
	cur_end(c);
	if (*label)
		write_attr("keycreate", label);
	long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0);
	if (id < 0) {
		/* A kernel without keys: nothing to isolate (runc's rule). */
		if (errno == ENOSYS)
			return;
		fail(errno, "keyctl", "join session keyring %s", name);
	}
	if (*label)
		write_attr("keycreate", "");
	if (search == 0)
		return;
	uint32_t perm;
	if (keyring_perm(id, &perm) < 0)
		fail(errno, "keyctl", "describe session keyring %s", name);
	if (syscall(SYS_keyctl, KEYCTL_SETPERM, id, perm | search, 0, 0) < 0)
		fail(errno, "keyctl", "set permissions of session keyring %s", name);
}
