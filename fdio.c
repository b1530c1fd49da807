/*
 * fdio.c: whole-buffer transfers; see fdio.h.
 * Runs in: any process (library).
 */
#include "fdio.h"

#include <errno.h>
#include <unistd.h>

/* One loop for the three: off < 0 means the file offset (read/write). */
static bool transfer(int fd, char *rbuf, const char *wbuf, size_t n,
    off_t off)
{
	while (n > 0) {
		ssize_t k = rbuf ? pread(fd, rbuf, n, off) :
		    off < 0 ? write(fd, wbuf, n) : pwrite(fd, wbuf, n, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)	/* end of file, or no progress */
				errno = EIO;
			return false;
		}
		if (rbuf)
			rbuf += k;
		else
			wbuf += k;
		n -= (size_t)k;
		if (off >= 0)
			off += k;
	}
	return true;
}

bool fdio_pread_all(int fd, void *buf, size_t n, off_t off)
{
	return transfer(fd, buf, NULL, n, off);
}

bool fdio_pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	return transfer(fd, NULL, buf, n, off);
}

bool fdio_write_all(int fd, const void *buf, size_t n)
{
	return transfer(fd, NULL, buf, n, -1);
}
