/*
 * exec_fds.c: a stand-in for a program that pop3d's session runs, such as
 * liblockfile's dotlockfile helper (built by lock.bats with -DREPORT=path
 * -DREAL=path): appends the numbers of the file descriptors it was started
 * with to REPORT, one line, then runs REAL with the same arguments.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	(void)argc;
	char line[4096];
	size_t n = 0;
	for (int fd = 0; fd < 1024 && n < sizeof(line) - 16; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%d",
			    n ? " " : "", fd);
	FILE *f = fopen(REPORT, "a");
	if (!f)
		return 1;
	fprintf(f, "%s\n", line);
	fclose(f);
	execv(REAL, argv);
	return 1;
}
