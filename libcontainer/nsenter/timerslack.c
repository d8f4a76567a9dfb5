/*
 * timerslack.c: the timer slack skiff runs with, and the caller's, which
 * every process skiff starts gets back.
 *
 * While Go code runs, the runtime's sysmon thread sleeps 20 us at a time
 * to look for goroutines to preempt and processors to take back from
 * system calls. Each wake-up is a context switch, often an IPI to an idle
 * CPU: ~40 of the ~100 context switches of a `skiff run` on these
 * machines, and 0.5-0.9 ms of CPU. A command that lives for milliseconds
 * needs none of that precision, so before the runtime starts skiff raises
 * its timer slack to 20 ms, and every thread inherits it: the kernel may
 * then let each of those sleeps last up to 20 ms, and sysmon wakes once
 * or twice in a `run` (20 ms against 4: 0.4-0.7 ms less CPU per `run`
 * where a context switch costs ~30 us). Nothing skiff waits for on its
 * paths is a timer: the container's exit, its signals and the init's
 * messages wake the runtime's poller or a poll(2) at once; only timeouts
 * (of hooks, of a kill) may end up to 20 ms late.
 *
 * fork and execve pass the slack on, and what skiff starts must not run
 * with skiff's: the thread that starts a process puts the caller's
 * value back around the fork (skiff_spawn here, nsenter.WithCallerTimerSlack
 * in Go), so the child gets it as both its current and its default slack.
 */
#define _GNU_SOURCE
#include <sys/prctl.h>

#include "nsenter.h"

#define SKIFF_TIMERSLACK_NS 20000000UL

/* The caller's slack, or 0 when skiff left its own alone. */
unsigned long skiff_caller_timerslack;

void skiff_raise_timerslack(void)
{
	int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (slack <= 0 || (unsigned long)slack >= SKIFF_TIMERSLACK_NS)
		return;
	if (prctl(PR_SET_TIMERSLACK, SKIFF_TIMERSLACK_NS, 0, 0, 0) == 0)
		skiff_caller_timerslack = (unsigned long)slack;
}

/* Put the caller's slack on this thread, before it forks. */
void skiff_timerslack_caller(void)
{
	if (skiff_caller_timerslack != 0)
		prctl(PR_SET_TIMERSLACK, skiff_caller_timerslack, 0, 0, 0);
}

/* And skiff's back, after. */
void skiff_timerslack_raised(void)
{
	if (skiff_caller_timerslack != 0)
		prctl(PR_SET_TIMERSLACK, SKIFF_TIMERSLACK_NS, 0, 0, 0);
}
