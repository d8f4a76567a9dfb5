/*
 * rootfs.c: the init's filesystem steps. Every path inside the container
 * is resolved from the root directory fd with openat2(RESOLVE_IN_ROOT)
 * (without openat2, the equivalent walk of resolve.c), and every mount
 * is attached to an fd (move_mount), never to a path string: a symlink
 * in the image can never lead outside it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "nsenter.h"

#ifndef MS_REC
#define MS_REC 16384
#define MS_MOVE 8192
#define MS_SLAVE (1 << 19)
#endif
#define MNT_DETACH_ 2

static int sys_open_tree(int dirfd, const char *path, unsigned int flags)
{
	return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

static int sys_move_mount(int from, int to)
{
	return (int)syscall(SYS_move_mount, from, "", to, "",
			    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

static int sys_mount_setattr(int fd, unsigned int flags, uint64_t set, uint64_t clr, uint64_t prop)
{
	struct mount_attr attr = {.attr_set = set, .attr_clr = clr, .propagation = prop};
	return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, &attr, sizeof(attr));
}

static int sys_mount(const char *src, const char *dst, const char *type, unsigned long flags, const void *data)
{
	return (int)syscall(SYS_mount, src, dst, type, flags, data);
}

/* exec: after joining the container's mount namespace, "/" is its root. */
static int root_fd(void)
{
	if (st.rootfd < 0)
		st.rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return st.rootfd;
}

int open_in_root(const char *path, int flags, uint64_t resolve)
{
	int root = root_fd();
	return root < 0 ? -1 : open_beneath_root(root, path, flags, resolve);
}

int mkdir_p_in_root(const char *path, int dir, uint64_t resolve)
{
	int root = root_fd();
	return root < 0 ? -1 : mkdir_p_beneath_root(root, path, dir, resolve);
}

void do_rootfs(struct cursor *c)
{
	uint32_t n = cur_u32(c);
	if (n > 4)
		fail(EINVAL, "decode init plan", "%u propagation changes", n);
	/* Every node, directory and file the init makes gets its mode from
	 * the call that makes it: no chmod afterwards, which a symlink
	 * swapped in between could redirect. REC_UMASK sets the process's. */
	umask(0);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t prop = cur_u64(c);
		if (sys_mount(NULL, "/", NULL, (unsigned long)prop, NULL) < 0)
			fail(errno, "mount", "set propagation of / to 0x%llx", (unsigned long long)prop);
	}
	const char *path = cur_str(c);
	cur_end(c);
	int tree = sys_open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		fail(errno, "open_tree", "%s", path);
	int target = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (target < 0)
		fail(errno, "open", "%s", path);
	if (sys_move_mount(tree, target) < 0)
		fail(errno, "move_mount", "bind %s on itself", path);
	close(target);
	/* After move_mount the tree fd is the root of the attached mount. */
	st.rootfd = tree;
	/* Leave the caller's directory: nothing of the host is the init's
	 * cwd while it sets up (it is visible to a pid namespace it joins). */
	if (fchdir(tree) < 0)
		fail(errno, "chdir", "to the root filesystem");
}

void do_mount_bind(struct cursor *c)
{
	const char *src = cur_str(c);
	const char *dst = cur_str(c);
	uint32_t flags = cur_u32(c);
	uint64_t set = cur_u64(c), clr = cur_u64(c), rset = cur_u64(c), rclr = cur_u64(c);
	cur_end(c);

	unsigned int tflags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
	if (flags & BIND_RECURSIVE)
		tflags |= AT_RECURSIVE;
	int tree = sys_open_tree(AT_FDCWD, src, tflags);
	if (tree < 0)
		fail(errno, "open_tree", "mount source %s", src);
	struct stat sb;
	if (fstat(tree, &sb) < 0)
		fail(errno, "stat", "mount source %s", src);
	int target = mkdir_p_in_root(dst, S_ISDIR(sb.st_mode), 0);
	if (target < 0)
		fail(errno, "create mount destination", "%s", dst);
	if ((rset || rclr) && sys_mount_setattr(tree, AT_RECURSIVE, rset, rclr, 0) < 0)
		fail(errno, "mount_setattr", "recursive options of %s", dst);
	if ((set || clr) && sys_mount_setattr(tree, 0, set, clr, 0) < 0)
		fail(errno, "mount_setattr", "options of %s", dst);
	if (sys_move_mount(tree, target) < 0)
		fail(errno, "move_mount", "%s on %s", src, dst);
	close(target);
	close(tree);
}

/* The kernel explains fsconfig failures through the fs context fd. */
static const char *fs_context_message(int fsfd, char *buf, size_t len)
{
	ssize_t n = read(fsfd, buf, len - 1);
	if (n <= 2)
		return "";
	buf[n] = '\0';
	return buf + 2; /* skip the "e " prefix */
}

void do_mount_fs(struct cursor *c)
{
	char msg[512];
	const char *fstype = cur_str(c);
	const char *source = cur_str(c);
	const char *dst = cur_str(c);
	uint32_t dflags = cur_u32(c);
	uint64_t attr = cur_u64(c);
	uint32_t nparams = cur_u32(c);

	int fsfd = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
	if (fsfd < 0)
		fail(errno, "fsopen", "%s for %s", fstype, dst);
	if (*source && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		fail(errno, "fsconfig", "%s source %s", dst, source);
	for (uint32_t i = 0; i < nparams; i++) {
		uint32_t kind = cur_u32(c);
		const char *key = cur_str(c);
		const char *value = cur_str(c);
		long r;
		if (kind == FSPARAM_FLAG)
			r = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, key, NULL, 0);
		else
			r = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, key, value, 0);
		if (r < 0) {
			int e = errno;
			fail(e, "mount", "%s on %s: option %s%s%s: %s", fstype, dst, key,
			     kind == FSPARAM_FLAG ? "" : "=", kind == FSPARAM_FLAG ? "" : value,
			     fs_context_message(fsfd, msg, sizeof(msg)));
		}
	}
	cur_end(c);
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		int e = errno;
		fail(e, "mount", "%s on %s: %s", fstype, dst, fs_context_message(fsfd, msg, sizeof(msg)));
	}
	int mnt = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, (unsigned int)attr);
	if (mnt < 0)
		fail(errno, "fsmount", "%s on %s", fstype, dst);
	close(fsfd);
	/* dflags bit 0: the destination must be a real directory (proc, sysfs). */
	int target = mkdir_p_in_root(dst, 1, (dflags & 1) ? RESOLVE_NO_SYMLINKS : 0);
	if (target < 0)
		fail(errno, "create mount destination", "%s", dst);
	if (sys_move_mount(mnt, target) < 0)
		fail(errno, "move_mount", "%s on %s", fstype, dst);
	close(target);
	close(mnt);
}

void do_mount_setattr(struct cursor *c)
{
	const char *dst = cur_str(c);
	uint64_t set = cur_u64(c), clr = cur_u64(c), prop = cur_u64(c);
	uint32_t recursive = cur_u32(c);
	cur_end(c);
	int fd = open_in_root(dst, O_PATH, 0);
	if (fd < 0)
		fail(errno, "open", "%s", dst);
	if (sys_mount_setattr(fd, recursive ? AT_RECURSIVE : 0, set, clr, prop) < 0)
		fail(errno, "mount_setattr", "%s", dst);
	close(fd);
}

/* Splits "/a/b/c" into a parent fd (created if missing) and "c". */
static int open_parent(const char *path, const char **base)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (slash == NULL || slash[1] == '\0' || strlen(path) >= sizeof(dir)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	*base = slash + 1;
	if (strcmp(*base, "..") == 0 || strcmp(*base, ".") == 0) {
		errno = EINVAL;
		return -1;
	}
	return mkdir_p_in_root(dir[0] ? dir : "/", 1, 0);
}

void do_device(struct cursor *c)
{
	const char *path = cur_str(c);
	uint32_t mode = cur_u32(c), major = cur_u32(c), minor = cur_u32(c);
	uint32_t uid = cur_u32(c), gid = cur_u32(c), bind = cur_u32(c);
	cur_end(c);

	const char *base;
	int dir = open_parent(path, &base);
	if (dir < 0)
		fail(errno, "create device", "%s", path);
	int real = dir;
	if (bind) {
		int fd = openat(real, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
		else if (errno != EEXIST && errno != EISDIR)
			fail(errno, "create device", "%s", path);
		int tree = sys_open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (tree < 0)
			fail(errno, "open_tree", "host device %s", path);
		int target = open_in_root(path, O_PATH, RESOLVE_NO_SYMLINKS);
		if (target < 0)
			fail(errno, "open", "%s", path);
		if (sys_move_mount(tree, target) < 0)
			fail(errno, "move_mount", "device %s", path);
		close(tree);
		close(target);
	} else {
		/* Usually /dev is a fresh tmpfs: make the node, and replace
		 * only what the image put there. */
		int made = mknodat(real, base, (mode_t)mode, makedev(major, minor));
		if (made < 0 && errno == EEXIST) {
			if (unlinkat(real, base, 0) < 0 && errno != ENOENT)
				fail(errno, "create device", "%s: remove what is there", path);
			made = mknodat(real, base, (mode_t)mode, makedev(major, minor));
		}
		if (made < 0)
			fail(errno, "mknod", "%s", path);
		/* NOFOLLOW: if the node was swapped for a symlink, only the
		 * link inside the rootfs changes owner. */
		if ((uid || gid) && fchownat(real, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			fail(errno, "chown", "%s", path);
	}
	close(real);
}

void do_symlink(struct cursor *c)
{
	const char *target = cur_str(c);
	const char *link = cur_str(c);
	cur_end(c);
	const char *base;
	int dir = open_parent(link, &base);
	if (dir < 0)
		fail(errno, "symlink", "%s", link);
	if (symlinkat(target, dir, base) < 0 && errno != EEXIST)
		fail(errno, "symlink", "%s -> %s", link, target);
	close(dir);
}

void do_pivot_root(struct cursor *c)
{
	uint32_t nopivot = cur_u32(c);
	cur_end(c);
	if (fchdir(st.rootfd) < 0)
		fail(errno, "chdir", "to the root filesystem");
	if (nopivot) {
		if (sys_mount(".", "/", NULL, MS_MOVE, NULL) < 0)
			fail(errno, "mount", "move the root filesystem to /");
		if (chroot(".") < 0)
			fail(errno, "chroot", "the root filesystem");
	} else {
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			fail(errno, "pivot_root", "the root filesystem");
		/* The old root is now stacked on "/"; umount follows mounts to
		 * the top one. It is a slave since REC_ROOTFS: its unmount does
		 * not reach the host. */
		if (syscall(SYS_umount2, ".", MNT_DETACH_) < 0)
			fail(errno, "umount", "the old root");
	}
	if (chdir("/") < 0)
		fail(errno, "chdir", "/");
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		fail(errno, "open", "/");
	close(st.rootfd);
	st.rootfd = root;
}

/* A masked file gets the container's /dev/null, checked to be 1:3 so a
 * symlink or a fake node in the image cannot be bound instead. */
static int dev_null_tree(void)
{
	struct stat sb;
	int fd = open_in_root("/dev/null", O_PATH, RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		fail(errno, "open", "/dev/null for masking");
	if (fstat(fd, &sb) < 0 || !S_ISCHR(sb.st_mode) || sb.st_rdev != makedev(1, 3))
		fail(EPERM, "mask", "/dev/null in the container is not the null device");
	int tree = sys_open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		fail(errno, "open_tree", "/dev/null");
	close(fd);
	return tree;
}

static int empty_ro_tmpfs(void)
{
	int fsfd = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0 || syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "size", "0", 0) < 0 ||
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		fail(errno, "mount", "tmpfs for masking");
	int mnt = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
	if (mnt < 0)
		fail(errno, "fsmount", "tmpfs for masking");
	close(fsfd);
	return mnt;
}

void do_mask_path(struct cursor *c)
{
	const char *path = cur_str(c);
	cur_end(c);
	struct stat sb;
	/* No symlinks: /proc or /sys swapped for a link (or one appearing in
	 * a race) must fail the create, not make skiff skip the mask. */
	int target = open_in_root(path, O_PATH, RESOLVE_NO_SYMLINKS);
	if (target < 0) {
		if (errno == ENOENT)
			return;
		fail(errno, "open", "masked path %s", path);
	}
	if (fstat(target, &sb) < 0)
		fail(errno, "stat", "masked path %s", path);
	int tree = S_ISDIR(sb.st_mode) ? empty_ro_tmpfs() : dev_null_tree();
	if (sys_move_mount(tree, target) < 0)
		fail(errno, "move_mount", "mask %s", path);
	close(tree);
	close(target);
}

void do_readonly_path(struct cursor *c)
{
	const char *path = cur_str(c);
	cur_end(c);
	int target = open_in_root(path, O_PATH, RESOLVE_NO_SYMLINKS);
	if (target < 0) {
		if (errno == ENOENT)
			return;
		fail(errno, "open", "read-only path %s", path);
	}
	int tree = sys_open_tree(target, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
	if (tree < 0)
		fail(errno, "open_tree", "read-only path %s", path);
	if (sys_mount_setattr(tree, AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0) < 0)
		fail(errno, "mount_setattr", "read-only path %s", path);
	if (sys_move_mount(tree, target) < 0)
		fail(errno, "move_mount", "read-only path %s", path);
	close(tree);
	close(target);
}

void do_root_readonly(struct cursor *c)
{
	cur_end(c);
	if (sys_mount_setattr(st.rootfd, 0, MOUNT_ATTR_RDONLY, 0, 0) < 0)
		fail(errno, "mount_setattr", "make / read-only");
}

/* A procfs instance of skiff's own, never one the image could have
 * shaped: sysctls and the exec fifo go through it. */
int proc_handle(void)
{
	struct statfs sfs;
	if (st.procfd >= 0)
		return st.procfd;
	int fsfd = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
	if (fsfd < 0 || syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		fail(errno, "fsopen", "private procfs");
	int mnt = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC,
			       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		fail(errno, "fsmount", "private procfs");
	close(fsfd);
	if (fstatfs(mnt, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
		fail(EXDEV, "procfs", "private procfs is not procfs");
	st.procfd = mnt;
	return mnt;
}

/* Opens path (relative) in the private procfs: no symlink, no other
 * mount, and what it opens must be procfs's own file. */
int proc_open(const char *path, int flags)
{
	struct statfs sfs;
	int fd = openat2_or_walk(proc_handle(), path, flags,
				 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
	if (fd < 0)
		return -1;
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	return fd;
}
