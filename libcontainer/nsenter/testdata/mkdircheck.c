/*
 * mkdircheck: runs mkdir_p_beneath_root (resolve.c) on each line of
 * stdin, PATH <TAB> DIR <TAB> RESOLVE, with the root directory argv[1],
 * and prints one line per lookup: "err ERRNO" or "ok dir" / "ok file",
 * for resolve_test.go to check together with what was made on disk.
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

int main(int argc, char **argv)
{
	char line[8192];
	if (argc != 2)
		return 2;
	int root = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return 2;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *path = strtok(line, "\t"), *dir_s = strtok(NULL, "\t"), *resolve_s = strtok(NULL, "\t");
		if (path == NULL || dir_s == NULL || resolve_s == NULL) {
			fprintf(stderr, "mkdircheck: bad input line\n");
			return 2;
		}
		int fd = mkdir_p_beneath_root(root, path, atoi(dir_s), strtoull(resolve_s, NULL, 0));
		struct stat sb;
		if (fd < 0)
			printf("err %d\n", errno);
		else if (fstat(fd, &sb) < 0)
			printf("bad fd\n");
		else
			printf("ok %s\n", S_ISDIR(sb.st_mode) ? "dir" : "file");
		if (fd >= 0)
			close(fd);
	}
	return 0;
}
