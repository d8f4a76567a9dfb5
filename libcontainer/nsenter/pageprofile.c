/*
 * pageprofile.c: a command maps, in one go, the pages of its own binary
 * that the same binary's first run of that command was seen to touch.
 *
 * Where skiff's binary is mapped a page at a time (faultaround.c), each
 * page a command reads is a page fault: ~0.8 us on most hosts, but 14-20
 * us on a host that virtualises page tables in software (here: the PVM
 * hypervisor, where the ~500 such faults of a foreground `run` cost it
 * 6-8 ms of CPU). The commands that end within milliseconds keep the
 * kernel's fault-around, but still take ~80 faults on the binary.
 * MADV_POPULATE_READ maps a list of pages in one system call, ~0.2-1 us
 * a page, and maps nothing else.
 *
 * The list is learnt: the first run of a command by a binary (one with
 * no profile for it) maps the ranges a page at a time and reads from
 * /proc/self/pagemap which of their pages are present as it ends, and
 * saves them as a bitmap in /run/skiff-cache/pages/, in a file named
 * after the binary's device, inode, size and modification time and the
 * command. A foreground `run` drops what start-up touched as its command
 * starts (skiff_drop_startup_pages), so it takes two snapshots: just
 * before the drop, and as it ends. Every later run of the command
 * populates the first set before the Go runtime starts and the second
 * right after the drop. A page missing from the profile still comes in
 * by its fault; a page in it that this run does not need costs 4 KiB of
 * RSS. So the profile only changes speed and memory, never what skiff
 * does, and a profile someone else wrote could do no more than that: it
 * is used only if root owns it, and only for ranges that match the
 * binary's exactly. Only root's runs use and learn profiles
 * (/run/skiff-cache is root's).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nsenter.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define PROFILE_CACHE_DIR "/run/skiff-cache"
#define PROFILE_DIR PROFILE_CACHE_DIR "/pages"
/* 128 MiB of ranges: far more than skiff's binary. */
#define MAX_PROFILE_PAGES (1u << 15)
#define PAGEMAP_PRESENT (1ull << 63)

static const char profile_magic[8] = { 'S', 'K', 'P', 'G', 'P', 'R', 'F', '1' };

struct profile_header {
	char magic[8];
	uint32_t nranges;
	uint32_t npages;
	/* Relative to the load bias, so that a position-independent
	 * build matches its profile wherever it is loaded. */
	struct {
		uint64_t start, end;
	} ranges[MAX_PROFILE_RANGES];
	/* Followed by two bitmaps of npages bits each: the pages start-up
	 * touched, and those the command touched after the drop (none for
	 * a command that does not drop). */
};

static enum profile_state state;
/* Whether skiff_drop_startup_pages has run. */
static int dropped;
static struct range ranges[MAX_PROFILE_RANGES];
static int nranges;
static unsigned long load_bias;
static uint32_t npages;
static long page_size;
static unsigned char startup_bits[MAX_PROFILE_PAGES / 8];
static unsigned char command_bits[MAX_PROFILE_PAGES / 8];
static char profile_path[128];

static size_t bitmap_len(void)
{
	return (npages + 7) / 8;
}

/*
 * Where the ranges keep the kernel's fault-around, populating one page
 * maps the 64 KiB window around it (the default fault_around_bytes), so
 * the pages between two profile pages in the same or the next window
 * cost no more faults: one call covers them.
 */
#define FAULT_AROUND_BYTES (64ul << 10)
static int fault_around;

static void populate_span(unsigned long start, unsigned long end)
{
	if (start < end)
		madvise((void *)start, end - start, MADV_POPULATE_READ);
}

/* madvise(MADV_POPULATE_READ) the pages whose bits are set, in as few
 * calls as what is mapped allows. */
static void populate(const unsigned char *bits)
{
	uint32_t base = 0;
	unsigned long psize = (unsigned long)page_size;
	for (int r = 0; r < nranges; r++) {
		uint32_t n = (uint32_t)((ranges[r].end - ranges[r].start) / psize);
		unsigned long start = 0, end = 0;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t b = base + i;
			if ((bits[b / 8] & (1u << (b % 8))) == 0)
				continue;
			unsigned long page = ranges[r].start + (unsigned long)i * psize;
			if (end != 0 && (page == end || (fault_around && page / FAULT_AROUND_BYTES <=
										  (end - 1) / FAULT_AROUND_BYTES + 1))) {
				end = page + psize;
				continue;
			}
			populate_span(start, end);
			start = page;
			end = page + psize;
		}
		populate_span(start, end);
		base += n;
	}
}

/* Sets the bit of every page of the ranges that is mapped now. */
static int snapshot(unsigned char *bits)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(bits, 0, bitmap_len());
	uint64_t entries[512];
	uint32_t base = 0;
	for (int r = 0; r < nranges; r++) {
		uint32_t n = (uint32_t)((ranges[r].end - ranges[r].start) / (unsigned long)page_size);
		off_t first = (off_t)(ranges[r].start / (unsigned long)page_size);
		for (uint32_t i = 0; i < n;) {
			uint32_t want = n - i < 512 ? n - i : 512;
			ssize_t got = pread(fd, entries, want * sizeof(entries[0]), (first + (off_t)i) * (off_t)sizeof(entries[0]));
			if (got <= 0 || got % (ssize_t)sizeof(entries[0]) != 0) {
				close(fd);
				return -1;
			}
			for (uint32_t k = 0; k < (uint32_t)got / sizeof(entries[0]); k++) {
				uint32_t b = base + i + k;
				if (entries[k] & PAGEMAP_PRESENT)
					bits[b / 8] |= (unsigned char)(1u << (b % 8));
			}
			i += (uint32_t)got / sizeof(entries[0]);
		}
		base += n;
	}
	close(fd);
	return 0;
}

static int header_matches(const struct profile_header *h)
{
	if (memcmp(h->magic, profile_magic, sizeof(profile_magic)) != 0 ||
	    h->nranges != (uint32_t)nranges || h->npages != npages)
		return 0;
	for (int r = 0; r < nranges; r++)
		if (h->ranges[r].start != ranges[r].start - load_bias ||
		    h->ranges[r].end != ranges[r].end - load_bias)
			return 0;
	return 1;
}

/* A command's name becomes part of a file name: lower-case letters only. */
static int command_name_ok(const char *cmd)
{
	size_t n = strlen(cmd);
	if (n == 0 || n > 16)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (cmd[i] < 'a' || cmd[i] > 'z')
			return 0;
	return 1;
}

/*
 * Called by faultaround.c with the ranges in[0..n) of the binary that
 * the profile of cmd covers, mapped a page at a time or, with_fault_around,
 * not; exe_fd is skiff's own executable, loaded bias bytes above its link
 * addresses (0 for skiff's static build).
 * Loads the profile and maps its start-up pages (PROFILE_LOADED), or
 * arranges for this run to record one (PROFILE_RECORDING: the caller
 * must have the ranges mapped a page at a time, or cancel).
 */
enum profile_state skiff_page_profile_start(int exe_fd, unsigned long bias, const struct range *in, int n,
					    const char *cmd, int with_fault_around)
{
	struct stat exe;
	page_size = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0 || !command_name_ok(cmd) || n <= 0 || n > MAX_PROFILE_RANGES || page_size <= 0 ||
	    fstat(exe_fd, &exe) < 0)
		return PROFILE_OFF;
	unsigned long total = 0;
	for (int r = 0; r < n; r++) {
		ranges[r] = in[r];
		total += (in[r].end - in[r].start) / (unsigned long)page_size;
	}
	if (total == 0 || total > MAX_PROFILE_PAGES)
		return PROFILE_OFF;
	nranges = n;
	npages = (uint32_t)total;
	load_bias = bias;
	fault_around = with_fault_around;
	/* Named as the sealed copy of the binary is (libcontainer/exe.go),
	 * and the command. */
	int len = snprintf(profile_path, sizeof(profile_path), PROFILE_DIR "/%llx-%llx-%llx-%llx.%ld.%s",
			   (unsigned long long)exe.st_dev, (unsigned long long)exe.st_ino,
			   (unsigned long long)exe.st_size, (unsigned long long)exe.st_mtim.tv_sec,
			   (long)exe.st_mtim.tv_nsec, cmd);
	if (len <= 0 || (size_t)len >= sizeof(profile_path))
		return PROFILE_OFF;

	int fd = open(profile_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			state = PROFILE_RECORDING;
		return state;
	}
	struct stat st;
	struct profile_header h;
	size_t blen = bitmap_len();
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
	    (st.st_mode & (S_IWGRP | S_IWOTH)) == 0 &&
	    st.st_size == (off_t)(sizeof(h) + 2 * blen) &&
	    pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && header_matches(&h) &&
	    pread(fd, startup_bits, blen, (off_t)sizeof(h)) == (ssize_t)blen &&
	    pread(fd, command_bits, blen, (off_t)(sizeof(h) + blen)) == (ssize_t)blen) {
		state = PROFILE_LOADED;
		populate(startup_bits);
	} else {
		/* Not this binary's (or damaged): learn it again. */
		state = PROFILE_RECORDING;
	}
	close(fd);
	return state;
}

/* Called when the ranges could not be mapped a page at a time. */
void skiff_page_profile_cancel(void)
{
	state = PROFILE_OFF;
}

/* Called by skiff_drop_startup_pages before it drops the ranges. */
void skiff_page_profile_before_drop(void)
{
	if (state == PROFILE_RECORDING && snapshot(startup_bits) < 0)
		state = PROFILE_OFF;
	dropped = 1;
}

/* Called by skiff_drop_startup_pages after it dropped the ranges. */
void skiff_page_profile_after_drop(void)
{
	if (state == PROFILE_LOADED)
		populate(command_bits);
}

/* A directory of root's that nobody else may write to. */
static int private_dir(const char *path)
{
	struct stat st;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return -1;
	return 0;
}

/*
 * Keeps the KEEP_PROFILES profiles written last, those of the binaries
 * run last (an upgrade or a benchmark may run a few side by side, each
 * with a dozen commands), and removes the others.
 */
#define KEEP_PROFILES 64
#define MAX_SEEN_PROFILES 256
static void prune_old_profiles(void)
{
	int dfd = open(PROFILE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return;
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return;
	}
	struct seen_profile {
		char name[96];
		struct timespec mtime;
	} *seen = calloc(MAX_SEEN_PROFILES, sizeof(*seen));
	if (seen == NULL) {
		closedir(d);
		return;
	}
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < MAX_SEEN_PROFILES) {
		struct stat st;
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(seen[0].name) ||
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		strcpy(seen[n].name, e->d_name);
		seen[n].mtime = st.st_mtim;
		n++;
	}
	/* Remove the oldest until KEEP_PROFILES are left. */
	for (; n > KEEP_PROFILES; n--) {
		int oldest = 0;
		for (int i = 1; i < n; i++)
			if (seen[i].mtime.tv_sec < seen[oldest].mtime.tv_sec ||
			    (seen[i].mtime.tv_sec == seen[oldest].mtime.tv_sec &&
			     seen[i].mtime.tv_nsec < seen[oldest].mtime.tv_nsec))
				oldest = i;
		unlinkat(dfd, seen[oldest].name, 0);
		seen[oldest] = seen[n - 1];
	}
	free(seen);
	closedir(d);
}

/*
 * Called by a command that succeeded, as it ends: a recording run saves
 * its profile. Errors are ignored: without a file, the next run records.
 */
void skiff_page_profile_save(void)
{
	if (state != PROFILE_RECORDING)
		return;
	state = PROFILE_OFF;
	if (!dropped)
		memset(command_bits, 0, bitmap_len());
	if (snapshot(dropped ? command_bits : startup_bits) < 0 || private_dir(PROFILE_CACHE_DIR) < 0 ||
	    private_dir(PROFILE_DIR) < 0)
		return;
	struct profile_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, profile_magic, sizeof(profile_magic));
	h.nranges = (uint32_t)nranges;
	h.npages = npages;
	for (int r = 0; r < nranges; r++) {
		h.ranges[r].start = ranges[r].start - load_bias;
		h.ranges[r].end = ranges[r].end - load_bias;
	}
	/* A dot name, which prune_old_profiles leaves to its writer. */
	char tmp[64];
	if (snprintf(tmp, sizeof(tmp), PROFILE_DIR "/.%d.tmp", (int)getpid()) >= (int)sizeof(tmp))
		return;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	size_t blen = bitmap_len();
	int ok = write(fd, &h, sizeof(h)) == (ssize_t)sizeof(h) &&
		 write(fd, startup_bits, blen) == (ssize_t)blen &&
		 write(fd, command_bits, blen) == (ssize_t)blen;
	close(fd);
	if (!ok || rename(tmp, profile_path) < 0) {
		unlink(tmp);
		return;
	}
	prune_old_profiles();
}
