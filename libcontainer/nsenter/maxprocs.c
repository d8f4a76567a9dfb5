/*
 * maxprocs.c: the Go runtime of a skiff command runs with one P
 * (GOMAXPROCS=1), and every process skiff starts gets its caller's CPU
 * affinity.
 *
 * The Go runtime sizes its scheduler from the number of CPUs the process
 * may run on, read once as it starts. With two or more, every goroutine
 * made ready while a P is idle wakes or starts another thread to run it,
 * and the runtime's own start-up does that several times. A skiff
 * command runs one sequential path for a few milliseconds: with one P it
 * took 0.2 ms less CPU per create, start and delete here (of 6.6, 1.6
 * and 1.8 ms) and touched fewer pages. Nothing in the binary can set
 * GOMAXPROCS early enough: the runtime reads the environment from the
 * process's initial stack, and runtime.GOMAXPROCS(1) in main comes after
 * the second P and its threads exist (it cost more than it saved).
 *
 * So before the runtime starts, the constructor narrows the main
 * thread's CPU affinity to the CPU it is on; the runtime counts one CPU,
 * and every thread it starts inherits the narrow mask. First thing in
 * main, skiff_restore_affinity gives every thread of skiff the caller's
 * mask back, before skiff starts any process (the container's init, a
 * hook) or thread of its own: what skiff starts inherits the affinity of
 * the thread that starts it, and must not be confined by skiff. Only
 * skiff's own commands do it (a test binary that links this package
 * never reaches skiff's main), and not the container's init, which has
 * no Go runtime.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "nsenter.h"

static cpu_set_t caller_affinity;
static int affinity_narrowed;

/* The commands of main.go whose main restores the affinity. */
static int is_skiff_command(const char *cmd)
{
	static const char *const commands[] = {"checkpoint", "create", "delete", "events", "exec", "features",
					       "kill", "list", "pause", "ps", "restore", "resume", "run",
					       "spec", "start", "state", "update"};
	if (cmd == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i]) == 0)
			return 1;
	return 0;
}

void skiff_narrow_affinity(const char *cmd)
{
	if (!is_skiff_command(cmd))
		return;
	if (sched_getaffinity(0, sizeof(caller_affinity), &caller_affinity) < 0 || CPU_COUNT(&caller_affinity) < 2)
		return;
	int cpu = sched_getcpu();
	if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &caller_affinity))
		return;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) == 0)
		affinity_narrowed = 1;
}

/* Gives thread tid the caller's mask; 1 if it had another one. Unless
 * check, the thread is known to have the narrow mask. */
static int restore_thread(pid_t tid, int check)
{
	cpu_set_t now;
	if (check && sched_getaffinity(tid, sizeof(now), &now) == 0 && CPU_EQUAL(&now, &caller_affinity))
		return 0;
	if (sched_setaffinity(tid, sizeof(caller_affinity), &caller_affinity) < 0) {
		/* The caller's CPUs are no longer allowed (its cpuset changed
		 * meanwhile): every CPU, as far as the cpuset allows. */
		cpu_set_t all;
		memset(&all, 0xff, sizeof(all));
		sched_setaffinity(tid, sizeof(all), &all);
	}
	return 1;
}

void skiff_restore_affinity(void)
{
	if (!affinity_narrowed)
		return;
	affinity_narrowed = 0;
	/* Every thread so far has the narrow mask. A thread the runtime
	 * starts while a pass runs may inherit it from one not restored
	 * yet: pass again until a pass finds every thread with the
	 * caller's mask. */
	for (int pass = 0; pass < 8; pass++) {
		DIR *tasks = opendir("/proc/self/task");
		if (tasks == NULL) {
			restore_thread(0, 0);
			return;
		}
		int restored = 0;
		struct dirent *e;
		while ((e = readdir(tasks)) != NULL) {
			char *end;
			long tid = strtol(e->d_name, &end, 10);
			if (*e->d_name != '\0' && *end == '\0' && tid > 0)
				restored += restore_thread((pid_t)tid, pass > 0);
		}
		closedir(tasks);
		if (restored == 0)
			return;
	}
}
