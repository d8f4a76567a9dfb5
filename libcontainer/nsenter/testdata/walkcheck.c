/*
 * walkcheck: runs each lookup read from stdin twice, with openat2 and
 * with resolve.c's fallback walk, and prints both outcomes on one line,
 * for resolve_test.go to compare. A line of input is
 *   DIR <TAB> PATH <TAB> FLAGS <TAB> RESOLVE
 * (FLAGS and RESOLVE in C notation); a line of output is
 *   OPENAT2-RESULT | WALK-RESULT
 * where a result is "err ERRNO" or "ok DEV:INO TYPE KIND ACCMODE".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../resolve.c"

void debug_parent(const char *fmt, ...)
{
	(void)fmt;
}

static void result(int fd, char *out, size_t len)
{
	struct stat sb;
	if (fd < 0) {
		snprintf(out, len, "err %d", errno);
		return;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fstat(fd, &sb) < 0 || fl < 0) {
		snprintf(out, len, "bad fd");
	} else {
		snprintf(out, len, "ok %llu:%llu %o %s %d", (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino,
			 (unsigned)(sb.st_mode & S_IFMT), (fl & O_PATH) ? "path" : "open", fl & O_ACCMODE);
	}
	close(fd);
}

int main(void)
{
	char line[8192];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *dir = strtok(line, "\t"), *path = strtok(NULL, "\t");
		char *flags_s = strtok(NULL, "\t"), *resolve_s = strtok(NULL, "\t");
		if (dir == NULL || path == NULL || flags_s == NULL || resolve_s == NULL) {
			fprintf(stderr, "walkcheck: bad input line\n");
			return 2;
		}
		if (strcmp(path, "-") == 0)
			path = "";
		int flags = (int)strtol(flags_s, NULL, 0);
		uint64_t resolve = strtoull(resolve_s, NULL, 0);
		int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0) {
			perror(dir);
			return 2;
		}
		char a[128], b[128];
		struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = resolve};
		result((int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how)), a, sizeof(a));
		result(walk(dirfd, path, flags, resolve), b, sizeof(b));
		printf("%s | %s\n", a, b);
		fflush(stdout);
		close(dirfd);
	}
	return 0;
}
