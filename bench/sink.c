/*
 * sink - the reading end of a session's output: copy stdin into FILE, like
 * `cat > FILE`, but without truncating FILE first, then write the number of
 * bytes copied into FILE.len.  bench/check.py reads only that many bytes.
 *
 * Why: on a virtual machine that hands freed memory back to its host (free
 * page reporting), `cat > FILE` on tmpfs frees the previous output's pages
 * and the next run faults fresh ones in from the host, at a cost that
 * varies from run to run.  Overwriting in place reuses the same pages.
 *
 * usage: sink FILE
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define BUF (128 * 1024) /* what cat(1) reads at a time */

int main(int argc, char **argv)
{
	static char buf[BUF];
	if (argc != 2) {
		fprintf(stderr, "usage: sink FILE\n");
		return 2;
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	long long total = 0;
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n < 0) {
			perror("read");
			return 1;
		}
		if (n == 0)
			break;
		for (ssize_t o = 0; o < n;) {
			ssize_t w = write(fd, buf + o, (size_t)(n - o));
			if (w < 0) {
				perror(argv[1]);
				return 1;
			}
			o += w;
		}
		total += n;
	}
	if (close(fd) < 0) {
		perror(argv[1]);
		return 1;
	}
	char len[4096];
	snprintf(len, sizeof len, "%s.len", argv[1]);
	FILE *f = fopen(len, "w");
	if (!f || fprintf(f, "%lld\n", total) < 0 || fclose(f) != 0) {
		perror(len);
		return 1;
	}
	return 0;
}
