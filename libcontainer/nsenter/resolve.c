/*
 * resolve.c: confined path lookups. openat2() where the kernel has it;
 * where it has not (before Linux 5.6, or under an outer runtime's seccomp
 * profile that answers ENOSYS or EPERM) a walk done here, one component
 * at a time, that keeps the guarantees the init's callers rely on:
 *
 *  - each component is opened with openat(O_PATH|O_NOFOLLOW) relative to
 *    the fd of the directory before it, so the kernel never follows a
 *    symlink on the walk's behalf and a swapped path cannot redirect it;
 *  - a symlink's target is read (readlinkat on that fd) and walked in
 *    turn: an absolute one from the starting fd (RESOLVE_IN_ROOT) or not
 *    at all (RESOLVE_BENEATH: EXDEV); at most 40 links (ELOOP), as the
 *    kernel's MAXSYMLINKS;
 *  - ".." never climbs above the starting fd: at the top it stays there
 *    (RESOLVE_IN_ROOT) or fails with EXDEV (RESOLVE_BENEATH); below it,
 *    the directory ".." reaches must be the very one (st_dev, st_ino) the
 *    walk came down through, otherwise a rename moved the walk somewhere
 *    else and it fails with EAGAIN, as openat2 does when it cannot be
 *    sure;
 *  - RESOLVE_NO_SYMLINKS fails (ELOOP) on any symlink; RESOLVE_NO_XDEV
 *    (EXDEV) on any component on another mount than the starting fd
 *    (statx mount ids, or st_dev on kernels without STATX_MNT_ID);
 *    and procfs links whose target is not a plain relative name (fd/,
 *    exe, cwd, root, ns/ links read as "/path" or "type:[inode]") are
 *    magic links, refused as openat2 refuses them in a confined lookup:
 *    ELOOP with RESOLVE_NO_MAGICLINKS, EXDEV without. The walk never
 *    lets the kernel follow a link, magic or not, so this only refuses
 *    what openat2 would refuse;
 *  - the last component is opened with the caller's flags by openat() on
 *    its parent's fd with O_NOFOLLOW, so it is that name in that
 *    directory or ELOOP (and then walked as a symlink), never whatever a
 *    symlink swapped in since points at; a directory the walk ended on
 *    ("/", ".", "..", "name/") is reopened with openat(fd, ".").
 *
 * No policy here: the callers choose flags and resolve bits as they do
 * for openat2. Only the confined lookups the init makes are supported
 * (RESOLVE_IN_ROOT or RESOLVE_BENEATH, no O_CREAT); anything else is
 * EINVAL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "nsenter.h"

/*
 * struct statx as the kernel lays it out (include/uapi/linux/stat.h, a
 * fixed 256 bytes), declared here: musl before 1.2.5 has none, and
 * <linux/stat.h> clashes with the libc's <sys/stat.h> under musl.
 */
struct kstatx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, spare0;
	uint64_t ino, size, blocks, attributes_mask;
	struct {
		int64_t sec;
		uint32_t nsec;
		int32_t reserved;
	} atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t mnt_id;
	uint64_t spare[13];
};
_Static_assert(sizeof(struct kstatx) == 256, "struct statx is 256 bytes");
_Static_assert(offsetof(struct kstatx, mnt_id) == 144, "stx_mnt_id is at 144");

#define KSTATX_TYPE 0x0001U
#define KSTATX_INO 0x0100U
#define KSTATX_MNT_ID 0x1000U

#define MAX_LINKS 40  /* symlinks one lookup may expand: the kernel's MAXSYMLINKS */
#define MAX_DEPTH 256 /* directories below the start a walk may stand in */

#define RESOLVE_KNOWN \
	(RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT)

/* Set once openat2 has proved missing; every later lookup walks. */
static int openat2_missing;

/* What the walk knows of a component it opened. */
struct node {
	dev_t dev;
	ino_t ino;
	uint64_t mnt; /* mount id; 0 on kernels whose statx has none */
	mode_t mode;
};

static int node_of(int fd, struct node *n)
{
	struct kstatx sx;
	memset(&sx, 0, sizeof(sx));
	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		    KSTATX_TYPE | KSTATX_INO | KSTATX_MNT_ID, &sx) < 0)
		return -1;
	n->dev = makedev(sx.dev_major, sx.dev_minor);
	n->ino = (ino_t)sx.ino;
	n->mode = sx.mode;
	n->mnt = (sx.mask & KSTATX_MNT_ID) ? sx.mnt_id : 0;
	return 0;
}

static int same_mount(const struct node *a, const struct node *b)
{
	return a->dev == b->dev && a->mnt == b->mnt;
}

/* A procfs link the kernel would jump through (see the top). */
static int is_magic_link(int linkfd, const char *target)
{
	struct statfs sfs;
	if (fstatfs(linkfd, &sfs) < 0)
		return 1; /* cannot tell: refuse */
	if (sfs.f_type != PROC_SUPER_MAGIC)
		return 0;
	return target[0] == '/' || strchr(target, ':') != NULL;
}

/* Closes what is open and fails with err. */
static int walk_fail(int a, int b, int err)
{
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	errno = err;
	return -1;
}

static int walk(int dirfd, const char *path, int flags, uint64_t resolve)
{
	char buf[PATH_MAX];  /* what is left to walk; link targets go in front */
	char link[PATH_MAX]; /* a symlink's target */
	char name[NAME_MAX + 1];
	struct node start, n, seen[MAX_DEPTH]; /* seen[i]: the directory at depth i */
	size_t depth = 0, len = strlen(path);
	int links = 0, beneath = (resolve & RESOLVE_BENEATH) != 0;
	int cur, next;

	if (resolve & RESOLVE_NO_SYMLINKS)
		resolve |= RESOLVE_NO_MAGICLINKS;
	if ((resolve & ~(uint64_t)RESOLVE_KNOWN) || !(resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH)) ||
	    ((resolve & RESOLVE_IN_ROOT) && beneath) || (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		errno = EINVAL;
		return -1;
	}
	if (len == 0) {
		errno = ENOENT;
		return -1;
	}
	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (path[0] == '/' && beneath) {
		errno = EXDEV;
		return -1;
	}
	memcpy(buf, path, len + 1);

	cur = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -1;
	if (node_of(cur, &start) < 0)
		return walk_fail(cur, -1, errno);
	seen[0] = start;

	char *rest = buf;
	for (;;) {
		while (*rest == '/')
			rest++;
		if (*rest == '\0')
			break;
		char *end = strchrnul(rest, '/');
		size_t nlen = (size_t)(end - rest);
		if (nlen > NAME_MAX)
			return walk_fail(cur, -1, ENAMETOOLONG);
		memcpy(name, rest, nlen);
		name[nlen] = '\0';
		int slash = *end == '/'; /* "name/": must be a directory */
		rest = end;
		while (*rest == '/')
			rest++;
		int last = *rest == '\0';

		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			if (depth == 0) {
				if (beneath)
					return walk_fail(cur, -1, EXDEV);
				continue; /* in the root, ".." is the root */
			}
			next = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (next < 0 || node_of(next, &n) < 0)
				return walk_fail(cur, next, errno);
			if (n.dev != seen[depth - 1].dev || n.ino != seen[depth - 1].ino)
				return walk_fail(cur, next, EAGAIN);
			if ((resolve & RESOLVE_NO_XDEV) && !same_mount(&n, &start))
				return walk_fail(cur, next, EXDEV);
			close(cur);
			cur = next;
			depth--;
			continue;
		}
		int direct_err = 0;
		if (last && !slash && !(flags & O_PATH)) {
			/* The last name, opened for I/O in the directory the
			 * walk holds; a symlink there fails (ELOOP, or ENOTDIR
			 * with O_DIRECTORY) and is walked below like any other. */
			int fd = openat(cur, name, flags | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0) {
				if ((resolve & RESOLVE_NO_XDEV) && (node_of(fd, &n) < 0 || !same_mount(&n, &start)))
					return walk_fail(cur, fd, EXDEV);
				close(cur);
				return fd;
			}
			direct_err = errno;
			if ((direct_err != ELOOP && !(direct_err == ENOTDIR && (flags & O_DIRECTORY))) ||
			    (flags & O_NOFOLLOW))
				return walk_fail(cur, -1, direct_err);
		}
		next = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 || node_of(next, &n) < 0)
			return walk_fail(cur, next, errno);
		if ((resolve & RESOLVE_NO_XDEV) && !same_mount(&n, &start))
			return walk_fail(cur, next, EXDEV);

		if (S_ISLNK(n.mode)) {
			if (last && !slash && (flags & O_NOFOLLOW)) {
				/* O_PATH|O_NOFOLLOW: the link itself. */
				if (flags & O_DIRECTORY)
					return walk_fail(cur, next, ENOTDIR);
				close(cur);
				return next;
			}
			if ((resolve & RESOLVE_NO_SYMLINKS) || ++links > MAX_LINKS)
				return walk_fail(cur, next, ELOOP);
			ssize_t ln = readlinkat(next, "", link, sizeof(link));
			if (ln < 0)
				return walk_fail(cur, next, errno);
			if ((size_t)ln >= sizeof(link))
				return walk_fail(cur, next, ENAMETOOLONG);
			link[ln] = '\0';
			if (ln == 0)
				return walk_fail(cur, next, ENOENT);
			/* The kernel refuses to jump through a magic link in a
			 * confined lookup: ELOOP if asked to, EXDEV anyway. */
			if (is_magic_link(next, link))
				return walk_fail(cur, next, (resolve & RESOLVE_NO_MAGICLINKS) ? ELOOP : EXDEV);
			close(next);
			/* buf = target ["/" if more follows or "name/"] rest. */
			size_t sep = (!last || slash) ? 1 : 0;
			size_t rlen = strlen(rest);
			if ((size_t)ln + sep + rlen >= sizeof(buf))
				return walk_fail(cur, -1, ENAMETOOLONG);
			memmove(buf + ln + sep, rest, rlen + 1);
			memcpy(buf, link, (size_t)ln);
			if (sep)
				buf[ln] = '/';
			rest = buf;
			if (link[0] == '/') {
				if (beneath)
					return walk_fail(cur, -1, EXDEV);
				close(cur);
				cur = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
				if (cur < 0)
					return -1;
				depth = 0;
			}
			continue;
		}
		if (last && !slash) {
			/* Opened for I/O above, which failed for a reason a
			 * symlink would give; this is none: ENOTDIR was the
			 * answer, or (ELOOP) it was swapped back since. */
			if (!(flags & O_PATH))
				return walk_fail(cur, next, direct_err == ENOTDIR ? ENOTDIR : EAGAIN);
			/* O_PATH: the fd the walk opened is the answer. */
			close(cur);
			if ((flags & O_DIRECTORY) && !S_ISDIR(n.mode))
				return walk_fail(next, -1, ENOTDIR);
			return next;
		}
		if (!S_ISDIR(n.mode))
			return walk_fail(cur, next, ENOTDIR);
		if (depth + 1 >= MAX_DEPTH)
			return walk_fail(cur, next, ENAMETOOLONG);
		seen[++depth] = n;
		close(cur);
		cur = next;
	}
	/* The walk ended on a directory it holds. */
	if (flags & O_PATH)
		return cur;
	int fd = openat(cur, ".", flags | O_CLOEXEC);
	int e = errno;
	close(cur);
	errno = e;
	return fd;
}

/*
 * ENOSYS: no openat2. EPERM may be a real answer too (an immutable file
 * opened for writing, an LSM), so it counts only if openat2 also refuses
 * to open "/" with O_PATH, which nothing but a filter refuses.
 */
static int openat2_unavailable(int err)
{
	if (err == EPERM) {
		struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
		long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));
		if (fd >= 0)
			close((int)fd);
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
			errno = err;
			return 0;
		}
	} else if (err != ENOSYS) {
		return 0;
	}
	openat2_missing = 1;
	debug_parent("openat2: %s: resolving paths with the fallback walk", strerror(err));
	return 1;
}

/*
 * EAGAIN is openat2's "a rename or a mount somewhere on the system raced
 * a '..' step, try again", and the walk's when the directory it climbed
 * to was not the one it came from: either is retried, a bounded number
 * of times (as securejoin does) so an attacker can only make it fail.
 */
#define MAX_RETRIES 128

int openat2_or_walk(int dirfd, const char *path, int flags, uint64_t resolve)
{
	for (int tries = 0;; tries++) {
		long fd = -1;
		if (!openat2_missing) {
			struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = resolve};
			fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
			if (fd < 0 && openat2_unavailable(errno))
				fd = walk(dirfd, path, flags, resolve);
		} else {
			fd = walk(dirfd, path, flags, resolve);
		}
		if (fd >= 0 || errno != EAGAIN || tries >= MAX_RETRIES)
			return (int)fd;
	}
}

/* Strips the leading slashes: openat2 wants a path relative to the root fd. */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

/* Opens path inside the root rootfd: symlinks and ".." stay in it. */
int open_beneath_root(int rootfd, const char *path, int flags, uint64_t resolve)
{
	return openat2_or_walk(rootfd, rel(path), flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve);
}

/*
 * Opens path inside the root, creating what is missing: directories on
 * the way, and the last component as a directory or, when !dir, an empty
 * file. Each component is created in a directory fd that was itself
 * resolved inside the root, and reopened through the root afterwards.
 */
int mkdir_p_beneath_root(int rootfd, const char *path, int dir, uint64_t resolve)
{
	char buf[PATH_MAX];
	int fd = open_beneath_root(rootfd, path, O_PATH, resolve);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (strlen(path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, path);
	/* Usually only the last component is missing (a mount point in a
	 * fresh tmpfs): start from the deepest ancestor that exists, found
	 * walking back from the end, rather than from the root. */
	char *p = buf + strlen(buf);
	int parent = -1;
	while (parent < 0) {
		while (p > buf && p[-1] == '/')
			p--;
		while (p > buf && p[-1] != '/')
			p--;
		if (p == buf) {
			parent = open_beneath_root(rootfd, "/", O_PATH | O_DIRECTORY, 0);
			if (parent < 0)
				return -1;
			break;
		}
		char saved = *p;
		*p = '\0';
		parent = open_beneath_root(rootfd, buf, O_PATH | O_DIRECTORY, resolve);
		*p = saved;
		if (parent < 0 && errno != ENOENT)
			return -1;
	}
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return parent;
		char *end = strchrnul(p, '/');
		int last = end[strspn(end, "/")] == '\0';
		int want_dir = !last || dir;
		char saved = *end;
		*end = '\0';
		if (strcmp(p, ".") != 0 && strcmp(p, "..") != 0) {
			int r;
			if (want_dir) {
				r = mkdirat(parent, p, 0755);
			} else {
				r = openat(parent, p, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (r >= 0)
					close(r);
			}
			if (r < 0 && errno != EEXIST) {
				int e = errno;
				close(parent);
				errno = e;
				return -1;
			}
		}
		close(parent);
		parent = open_beneath_root(rootfd, buf, O_PATH | (want_dir ? O_DIRECTORY : 0), resolve);
		*end = saved;
		if (parent < 0 || last)
			return parent;
		p = end;
	}
}
