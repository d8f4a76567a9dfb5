/*
 * faultaround.c: skiff's own binary is mapped a page at a time, as it is
 * touched, rather than 64 KiB (and more) at a time.
 *
 * On a read fault in a file mapping, the kernel maps not only the page
 * touched but every page of the file's page cache around it ("fault-
 * around", 64 KiB by default). A Go command touches a few pages here and
 * there all over its 11 MB binary: the runtime's start-up, every
 * package's init, the code of the command, the function tables that
 * each stack copy walks. So a `skiff run` ended up with nearly all of
 * its text and read-only data in its RSS (6.3 of its 8.3 MiB), most of
 * it never read.
 *
 * The kernel does not fault around in a range registered with a
 * userfaultfd for write-protect tracking (uffd_disable_fault_around).
 * Registered in asynchronous mode (UFFD_FEATURE_WP_ASYNC, Linux 6.7),
 * nothing ever waits on the userfaultfd: the kernel resolves its faults
 * itself, and skiff's text and rodata are never written anyway. So
 * before the Go runtime starts, skiff registers the read-only segments
 * of its own executable and keeps the fd open (closing it unregisters
 * them). A `run` then maps ~3 MiB less.
 *
 * It costs ~600 more page faults, 0.3-0.5 ms of CPU per command here,
 * up to a fifth of a `start`. So only the commands that stay alive as
 * long as a container does, a foreground `run` and `events`, do it; the
 * others exit within milliseconds.
 *
 * The fd gives whoever holds it power over skiff's memory: it is
 * close-on-exec and never one of fds 0-2 (which skiff passes on as the
 * container's stdio), and --preserve-fds passes on only fds skiff
 * inherited (libcontainer/initproc.go, inheritedFd).
 *
 * Where the kernel has no userfaultfd, refuses it (seccomp, an LSM,
 * vm.unprivileged_userfaultfd without CAP_SYS_PTRACE: the flag
 * UFFD_USER_MODE_ONLY is what unprivileged users may have) or lacks
 * asynchronous write-protect, nothing changes.
 */
#define _GNU_SOURCE
#include <link.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsenter.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

static int register_range(int fd, unsigned long start, unsigned long end)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = end - start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	return ioctl(fd, UFFDIO_REGISTER, &reg);
}

void skiff_no_fault_around(void)
{
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	unsigned long phnum = getauxval(AT_PHNUM);
	long page = sysconf(_SC_PAGESIZE);
	if (ph == NULL || phnum == 0 || page <= 0)
		return;
	/* The load bias: 0 for skiff's static non-PIE build. */
	unsigned long bias = 0;
	for (unsigned long i = 0; i < phnum; i++)
		if (ph[i].p_type == PT_PHDR)
			bias = (unsigned long)ph - ph[i].p_vaddr;

	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		return;
	if (fd < 3) {
		/* Fds 0-2 were closed by skiff's caller and are passed on as
		 * the container's stdio: keep them closed. */
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		close(fd);
		if (high < 0)
			return;
		fd = high;
	}
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC };
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		close(fd);
		return;
	}
	int registered = 0;
	unsigned long mask = (unsigned long)page - 1;
	for (unsigned long i = 0; i < phnum; i++) {
		if (ph[i].p_type != PT_LOAD || (ph[i].p_flags & PF_W) || ph[i].p_memsz == 0)
			continue;
		unsigned long start = (bias + ph[i].p_vaddr) & ~mask;
		unsigned long end = (bias + ph[i].p_vaddr + ph[i].p_memsz + mask) & ~mask;
		if (register_range(fd, start, end) == 0)
			registered++;
	}
	if (registered == 0)
		close(fd);
}
