/*
 * faultaround.c: most of skiff's own binary is mapped a page at a time,
 * as it is touched, rather than 64 KiB (and more) at a time.
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
 * them). Two parts keep fault-around: the Go runtime's own text and the
 * read-only data ahead of .gopclntab (type descriptors, strings, 1 MiB),
 * of which start-up touches most pages anyway; there fault-around saves
 * ~350 faults for ~600 KiB.
 *
 * Then, as the command itself starts, skiff drops from its mappings
 * what the Go runtime's start-up, the packages' initialisation and the
 * parsing of the command line touched of the rest of its text and of its
 * function tables (.gopclntab, which the runtime checks end to end at
 * start-up): skiff_drop_startup_pages. What the command needs of them
 * again comes back a page at a time, from the page cache.
 *
 * A foreground `run` of /bin/true peaks at ~3.7 MiB instead of ~7.3 MiB,
 * for ~500 more page faults: ~0.4 ms of CPU where a fault costs ~0.8 us,
 * 6-8 ms where page tables are virtualised in software. So `run` learns
 * which pages it touches and maps them in one go (pageprofile.c). Only
 * the commands that stay alive as long as a container does, a
 * foreground `run` and `events`, do any of this; the others exit within
 * milliseconds and keep fault-around, but map what their profile lists
 * in one go too (skiff_map_profiled_pages).
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
#include <sys/mman.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsenter.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

/* What skiff_drop_startup_pages drops: the text segment and .gopclntab. */
#define MAX_STARTUP_RANGES MAX_PROFILE_RANGES
static struct range startup_ranges[MAX_STARTUP_RANGES];
static int n_startup_ranges;

static void add_startup_range(unsigned long start, unsigned long end, unsigned long mask)
{
	/* Only whole pages that lie inside [start, end): a page shared with
	 * other data would be dropped for nothing. */
	start = (start + mask) & ~mask;
	end &= ~mask;
	if (start < end && n_startup_ranges < MAX_STARTUP_RANGES) {
		startup_ranges[n_startup_ranges].start = start;
		startup_ranges[n_startup_ranges].end = end;
		n_startup_ranges++;
	}
}

/*
 * The address range of .gopclntab, from the section headers of skiff's
 * own file (they are not loaded). -1 when it cannot be found: nothing of
 * it is dropped then.
 */
static int pclntab_range(int fd, unsigned long bias, unsigned long *start, unsigned long *end)
{
	static const char name[] = ".gopclntab";
	int ret = -1;
	if (fd < 0)
		return -1;
	ElfW(Ehdr) eh;
	ElfW(Shdr) sh[64];
	char names[1024];
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_shentsize != sizeof(ElfW(Shdr)) || eh.e_shnum == 0 ||
	    eh.e_shnum > sizeof(sh) / sizeof(sh[0]) || eh.e_shstrndx >= eh.e_shnum)
		goto out;
	ssize_t shsize = (ssize_t)(eh.e_shnum * sizeof(ElfW(Shdr)));
	if (pread(fd, sh, (size_t)shsize, (off_t)eh.e_shoff) != shsize)
		goto out;
	const ElfW(Shdr) *strtab = &sh[eh.e_shstrndx];
	size_t nlen = strtab->sh_size < sizeof(names) ? strtab->sh_size : sizeof(names);
	ssize_t got = pread(fd, names, nlen, (off_t)strtab->sh_offset);
	if (got <= 0)
		goto out;
	for (int i = 0; i < eh.e_shnum; i++) {
		if (sh[i].sh_name + sizeof(name) > (size_t)got ||
		    memcmp(names + sh[i].sh_name, name, sizeof(name)) != 0)
			continue;
		if ((sh[i].sh_flags & SHF_ALLOC) == 0 || sh[i].sh_size == 0)
			break;
		*start = bias + sh[i].sh_addr;
		*end = bias + sh[i].sh_addr + sh[i].sh_size;
		ret = 0;
		break;
	}
out:
	return ret;
}

static int register_range(int fd, unsigned long start, unsigned long end)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = end - start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	return ioctl(fd, UFFDIO_REGISTER, &reg);
}

/*
 * A userfaultfd for asynchronous write-protect tracking, never one of
 * fds 0-2; -1 if the kernel has none or refuses it. It is never closed:
 * closing it would unregister the ranges.
 */
static int wp_async_uffd(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		return -1;
	if (fd < 3) {
		/* Fds 0-2 were closed by skiff's caller and are passed on as
		 * the container's stdio: keep them closed. */
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		close(fd);
		if (high < 0)
			return -1;
		fd = high;
	}
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC };
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* skiff's program headers and its load bias (0 for its static non-PIE
 * build); -1 if the auxiliary vector has none. */
static int own_program_headers(const ElfW(Phdr) **ph, unsigned long *phnum, unsigned long *bias, unsigned long *mask)
{
	*ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	*phnum = getauxval(AT_PHNUM);
	long page = sysconf(_SC_PAGESIZE);
	if (*ph == NULL || *phnum == 0 || page <= 0)
		return -1;
	*mask = (unsigned long)page - 1;
	*bias = 0;
	for (unsigned long i = 0; i < *phnum; i++)
		if ((*ph)[i].p_type == PT_PHDR)
			*bias = (unsigned long)*ph - (*ph)[i].p_vaddr;
	return 0;
}

void skiff_no_fault_around(int learn_profile)
{
	const ElfW(Phdr) *ph;
	unsigned long phnum, bias, mask;
	if (own_program_headers(&ph, &phnum, &bias, &mask) < 0)
		return;
	int fd = wp_async_uffd();
	if (fd < 0)
		return;
	/*
	 * Where start-up touches most pages anyway, fault-around costs
	 * little memory and saves faults: the Go runtime's own text, laid
	 * out first and reaching to its entry point, main (rt0), and the
	 * read-only data ahead of .gopclntab (type descriptors, strings).
	 * Those stay with the kernel's default, if they look as expected:
	 * the runtime within the first quarter of the text, .gopclntab in
	 * a read-only segment.
	 */
	extern int main(int, char **, char **);
	unsigned long runtime_end = ((unsigned long)&main + mask) & ~mask;
	unsigned long pcstart = 0, pcend = 0;
	int exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (pclntab_range(exe_fd, bias, &pcstart, &pcend) < 0)
		pcstart = pcend = 0;
	int registered = 0;
	for (unsigned long i = 0; i < phnum; i++) {
		if (ph[i].p_type != PT_LOAD || (ph[i].p_flags & PF_W) || ph[i].p_memsz == 0)
			continue;
		unsigned long start = (bias + ph[i].p_vaddr) & ~mask;
		unsigned long end = (bias + ph[i].p_vaddr + ph[i].p_memsz + mask) & ~mask;
		int text = (ph[i].p_flags & PF_X) != 0;
		int has_pclntab = pcstart != 0 && start <= pcstart && pcend <= end;
		if (text && start < runtime_end && runtime_end < start + (end - start) / 4)
			start = runtime_end;
		else if (!text && has_pclntab)
			start = pcstart & ~mask;
		if (register_range(fd, start, end) < 0)
			continue;
		registered++;
		if (text)
			add_startup_range(start, end, mask);
		else if (has_pclntab)
			add_startup_range(pcstart, pcend, mask);
	}
	if (registered == 0) {
		close(fd);
		n_startup_ranges = 0;
	} else if (exe_fd >= 0 && learn_profile) {
		skiff_page_profile_start(exe_fd, bias, startup_ranges, n_startup_ranges, "run", 0);
	}
	if (exe_fd >= 0)
		close(exe_fd);
}

/*
 * The commands that end within milliseconds keep fault-around: their
 * RSS matters little. But most of what they touch of skiff's binary
 * comes from a fault each, ~80 of them, which costs ~1 ms where page
 * tables are virtualised in software. With a profile, all their pages
 * are mapped before the Go runtime starts; the run that learns it maps
 * the read-only segments a page at a time, so that the profile holds
 * only the pages the command read.
 */
void skiff_map_profiled_pages(const char *cmd)
{
	const ElfW(Phdr) *ph;
	unsigned long phnum, bias, mask;
	/* Only root's runs use and learn profiles (pageprofile.c): the
	 * others need not even open the binary. */
	if (geteuid() != 0 || own_program_headers(&ph, &phnum, &bias, &mask) < 0)
		return;
	struct range segments[MAX_PROFILE_RANGES];
	int n = 0;
	for (unsigned long i = 0; i < phnum && n < MAX_PROFILE_RANGES; i++) {
		if (ph[i].p_type != PT_LOAD || (ph[i].p_flags & PF_W) || ph[i].p_memsz == 0)
			continue;
		segments[n].start = (bias + ph[i].p_vaddr) & ~mask;
		segments[n].end = (bias + ph[i].p_vaddr + ph[i].p_memsz + mask) & ~mask;
		n++;
	}
	int exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (exe_fd < 0)
		return;
	if (skiff_page_profile_start(exe_fd, bias, segments, n, cmd, 1) == PROFILE_RECORDING) {
		/* The fd stays open as long as the command runs. */
		int fd = wp_async_uffd();
		int registered = 0;
		for (int i = 0; fd >= 0 && i < n; i++)
			registered += register_range(fd, segments[i].start, segments[i].end) == 0;
		/* With fault-around in any segment, the profile would hold
		 * pages the command never read. */
		if (registered != n) {
			skiff_page_profile_cancel();
			if (fd >= 0)
				close(fd);
		}
	}
	close(exe_fd);
}

/*
 * Called by the commands that registered the binary (run and events,
 * Go's nsenter.DropStartupPages) as they start. Drops nothing where
 * skiff_no_fault_around did not register it: with fault-around, what is
 * dropped would come back 64 KiB at a time.
 */
void skiff_drop_startup_pages(void)
{
	if (n_startup_ranges == 0)
		return;
	skiff_page_profile_before_drop();
	for (int i = 0; i < n_startup_ranges; i++)
		madvise((void *)startup_ranges[i].start,
			startup_ranges[i].end - startup_ranges[i].start, MADV_DONTNEED);
	n_startup_ranges = 0;
	skiff_page_profile_after_drop();
}
