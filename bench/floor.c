/*
 * floor - the lower bound for serving a mailbox: read FILE, convert LF to
 * CRLF and dot-stuff lines that start with '.', write to stdout in large
 * chunks.  No parsing, no protocol.  usage: floor FILE
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IN_SZ (1 << 20)
#define OUT_SZ (3 << 20) /* worst case: every byte a '.' line */

static void wall(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			perror("write");
			exit(1);
		}
		p += w;
		n -= (size_t)w;
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	char *in = malloc(IN_SZ), *out = malloc(OUT_SZ);
	int bol = 1;
	for (;;) {
		ssize_t n = read(fd, in, IN_SZ);
		if (n < 0) {
			perror("read");
			return 1;
		}
		if (n == 0)
			break;
		char *o = out, *p = in, *end = in + n;
		while (p < end) {
			if (bol && *p == '.')
				*o++ = '.';
			char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl) {
				memcpy(o, p, (size_t)(end - p));
				o += end - p;
				bol = 0;
				break;
			}
			memcpy(o, p, (size_t)(nl - p));
			o += nl - p;
			*o++ = '\r';
			*o++ = '\n';
			p = nl + 1;
			bol = 1;
		}
		wall(1, out, (size_t)(o - out));
	}
	return 0;
}
