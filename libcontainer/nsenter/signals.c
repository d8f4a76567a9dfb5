/*
 * signals.c: the signal mask skiff starts with, and host hooks started
 * with a clean one.
 *
 * A foreground `skiff run` or `skiff exec` relays the signals it gets to
 * the container. Go's os/signal registers each signal with a hand-off to
 * a dedicated thread, two context switches per signal: for the ~50 that
 * are relayed, about 1.3 ms of CPU and 150 context switches per run on
 * these machines. Instead, for those two commands, skiff_start_mask
 * blocks the relayed signals before the Go runtime starts: every Go
 * thread inherits the mask, and libcontainer/signals reads them from a
 * signalfd. Nothing a container runs may inherit that mask: `skiff init`
 * starts from an empty one, and host hooks are started through
 * skiff_spawn, which sets an empty mask in the child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>

#include "nsenter.h"

/*
 * The relayed signals, as runc relays them: all but the synchronous
 * faults (SEGV, BUS, FPE, ILL, TRAP, SYS), KILL and STOP, the ones the
 * Go runtime uses (URG for preemption, PROF), PIPE (a write to a closed
 * stdout must not become a signal for the container), and the
 * real-time signals the C library keeps for itself (32-34).
 */
static void relayed_set(sigset_t *set)
{
	static const int standard[] = {
		SIGHUP,  SIGINT,  SIGQUIT, SIGABRT, SIGUSR1,   SIGUSR2,   SIGALRM, SIGTERM, SIGSTKFLT, SIGCHLD,
		SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU, SIGXCPU,   SIGXFSZ,   SIGVTALRM, SIGWINCH, SIGIO, SIGPWR,
	};
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(standard) / sizeof(standard[0]); i++)
		sigaddset(set, standard[i]);
	for (int s = 35; s <= 64; s++)
		sigaddset(set, s);
}

/* Global flags of skiff (runc's) that take a value as the next word. */
static int flag_takes_value(const char *a)
{
	static const char *const with_value[] = {"--root", "-root", "--log", "-log", "--log-format", "-log-format",
						 "--criu", "-criu", "--rootless", "-rootless"};
	if (strchr(a, '='))
		return 0;
	for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++)
		if (strcmp(a, with_value[i]) == 0)
			return 1;
	return 0;
}

/* The command word: the first argument that is not a global flag. */
const char *skiff_command_of(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-')
			return argv[i];
		if (strcmp(argv[i], "--") == 0)
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (flag_takes_value(argv[i]))
			i++;
	}
	return NULL;
}

void skiff_start_mask(const char *cmd)
{
	if (cmd == NULL)
		return;
	if (strcmp(cmd, "init") == 0) {
		/* Whatever the parent had blocked is not the container's. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	} else if (strcmp(cmd, "run") == 0 || strcmp(cmd, "exec") == 0) {
		sigset_t relayed;
		relayed_set(&relayed);
		sigprocmask(SIG_BLOCK, &relayed, NULL);
	}
}

/*
 * The relayed signals the Go runtime unblocks on every thread it starts
 * (HUP, INT, QUIT, ABRT, TERM and STKFLT, whose default action ends the
 * process, and CHLD, caught only to reap orphans) never reach the
 * signalfd. os/signal would catch them with a hand-off to the runtime's
 * signal thread for each, some 20 context switches and 0.4 ms of CPU per
 * run; skiff_catch_signals gives them a handler that writes the
 * signal's number, one byte, to a pipe that libcontainer/signals reads
 * beside the signalfd. The pipe is non-blocking: when it is full, a
 * signal is dropped, as os/signal drops what its buffer cannot take.
 * The handler runs on the Go thread's signal stack (SA_ONSTACK, as Go
 * requires of C handlers), and a child gets the default action back:
 * Go resets the signals it installed handlers for in a forked child,
 * skiff_spawn resets every signal, and execve resets any handler.
 */
static int caught_fd = -1;

static void write_caught(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	ssize_t n = write(caught_fd, &b, 1);
	(void)n;
	errno = saved;
}

int skiff_catch_signals(int fd, const int *sigs, int n)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = write_caught;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	caught_fd = fd;
	for (int i = 0; i < n; i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}

/*
 * skiff_spawn starts path with argv and envp, fds 0-2 set to stdio[],
 * an empty signal mask, default dispositions for every signal and the
 * caller's timer slack, and returns its pid, or -errno.
 */
int skiff_spawn(const char *path, char *const argv[], char *const envp[], const int stdio[3])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	pid_t pid = -1;
	int err;

	sigemptyset(&none);
	sigfillset(&all);
	if ((err = posix_spawn_file_actions_init(&fa)) != 0)
		return -err;
	if ((err = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -err;
	}
	for (int i = 0; i < 3 && err == 0; i++)
		err = posix_spawn_file_actions_adddup2(&fa, stdio[i], i);
	if (err == 0)
		err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (err == 0)
		err = posix_spawnattr_setsigmask(&attr, &none);
	if (err == 0)
		err = posix_spawnattr_setsigdefault(&attr, &all);
	if (err == 0) {
		skiff_timerslack_caller();
		err = posix_spawn(&pid, path, &fa, &attr, argv, envp);
		skiff_timerslack_raised();
	}
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return err != 0 ? -err : pid;
}
