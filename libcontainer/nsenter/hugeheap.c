/*
 * hugeheap.c: the commands that end within milliseconds back the Go
 * heap with transparent huge pages.
 *
 * Each first touch of a fresh anonymous page is a page fault. A command
 * touches ~120 pages of its heap, most of them before main() (the
 * runtime's stack pools, the packages' initialisation): ~0.1 ms where a
 * fault costs ~0.8 us, but 1.5-2.5 ms of a ~13 ms `skiff start` where
 * page tables are virtualised in software (the PVM hypervisor: ~20 us a
 * fault). A 2 MiB huge page takes one fault and ~0.1-0.2 ms to clear.
 *
 * The Go runtime maps its heap itself, so skiff asks for huge pages
 * where the runtime maps it: cgo builds of the runtime call the C
 * library's mmap (runtime/cgo/gcc_mmap.c), and skiff is linked with
 * --wrap=mmap (nsenter.go), so those calls come here. An anonymous,
 * fixed, read-write mapping of 2 MiB or more is the heap being mapped
 * into the arena the runtime reserved (sysMap, 4 MiB at a time); the
 * runtime's other fixed mappings (its page allocator's summaries) are
 * smaller, and advice on one would change only its speed and memory
 * anyway; skiff's own C code maps nothing. MADV_HUGEPAGE only asks:
 * where the kernel has transparent huge pages set to "never", or cannot
 * find one, the heap stays in 4 KiB pages.
 *
 * It costs RSS: a command's heap becomes one or two 2 MiB pages instead
 * of ~0.5 MiB. So only the commands that end within milliseconds ask
 * (skiff_heap_pages(1), from the constructor). A foreground `run`, whose
 * peak RSS stays under 4 MiB, and `events`, which lives as long as a
 * container does, ask for the opposite (skiff_heap_pages(0):
 * MADV_NOHUGEPAGE), so that they keep 4 KiB pages even where the host
 * sets transparent huge pages to "always". Where the host sets THP
 * defrag to "madvise" (the kernel's default), a huge-page fault may
 * compact memory first; "defer" avoids that wait.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "nsenter.h"

#define HUGE_PAGE_SIZE (2ul << 20)

/* MADV_HUGEPAGE or MADV_NOHUGEPAGE for the heap; 0: the host's default. */
static int heap_advice;

void skiff_heap_pages(int huge)
{
	heap_advice = huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE;
}

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = __real_mmap(addr, len, prot, flags, fd, off);
	if (heap_advice != 0 && p != MAP_FAILED && (flags & MAP_ANONYMOUS) && (flags & MAP_FIXED) &&
	    prot == (PROT_READ | PROT_WRITE) && len >= HUGE_PAGE_SIZE)
		madvise(p, len, heap_advice);
	return p;
}
