/*
 * trace.c: when the init started and when each step of its plan began,
 * for the parent's --debug trace ("where the time went, per step").
 * Recording costs one vDSO clock read per step; the times reach the
 * parent in one MSG_STEP_TIMES frame, just before the init reports ready
 * or, for exec and hooks, just before execve. The parent ignores them
 * without --debug.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "nsenter.h"

#define MAX_TIMED_STEPS 1024

static uint64_t started_ns;                    /* the constructor ran */
static uint64_t step_ns[MAX_TIMED_STEPS];      /* step i began */
static uint32_t timed_steps;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void time_start(void)
{
	started_ns = now_ns();
}

void time_step(uint32_t step)
{
	if (step < MAX_TIMED_STEPS) {
		step_ns[step] = now_ns();
		timed_steps = step + 1;
	}
}

/*
 * MSG_STEP_TIMES {u64 started; u32 n; u64 step[n]; u64 now}, all
 * CLOCK_MONOTONIC nanoseconds. Best effort: a lost trace is no error.
 */
void send_step_times(void)
{
	static uint8_t buf[8 + 4 + 8 * MAX_TIMED_STEPS + 8];
	size_t off = 0;
	uint64_t end = now_ns();
	memcpy(buf + off, &started_ns, 8);
	off += 8;
	memcpy(buf + off, &timed_steps, 4);
	off += 4;
	memcpy(buf + off, step_ns, 8 * (size_t)timed_steps);
	off += 8 * (size_t)timed_steps;
	memcpy(buf + off, &end, 8);
	off += 8;
	send_frame(MSG_STEP_TIMES, buf, off);
}
