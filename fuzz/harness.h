/*
 * fuzz/harness.h: what the libFuzzer targets share.  Each target is one
 * fork-free process that runs pop3d's own modules on in-memory files:
 *
 *   harness_file(name)          a private temporary file (for a mailbox),
 *                               removed at exit; returns its path.  On
 *                               tmpfs when there is one: UPDATE's fsync
 *                               would otherwise set the pace
 *   harness_put(path, d, n)     the file's contents become d[0..n), mode 600
 *   harness_memfd(d, n)         an fd reading d[0..n) then EOF (a client)
 *   harness_state()             a private --state-dir (session locks, the
 *                               UPDATE journal), beside the mailbox
 *   harness_mailbox(name, cache)  for a target on one mailbox: logging off,
 *                               harness_file(name), harness_state(); the
 *                               index cache's path in cache[PATH_MAX]
 *   harness_split(d, n, parts)  an input of two parts: a flags byte, the
 *                               first part's length (2 bytes, little-
 *                               endian), the first part, the second;
 *                               false when too short for that
 *   harness_serve(mb, i, lines, file, n)  mailbox_send of message i (lines
 *                               as there) into a memfd, the reply checked:
 *                               -ERR-worthy statuses sent nothing; a reply
 *                               is "+OK n octets" (TOP's gives no count),
 *                               CRLF lines, dot-stuffed;
 *                               a whole one (MB_OK) ends in "." and holds
 *                               the octets it promised (RETR: exactly the
 *                               index's); whole or cut short, its text is
 *                               made of the bytes of the message's place in
 *                               the file (file[0..n)), in order, and of no
 *                               others.  Returns the status.
 */
#ifndef POP3D_FUZZ_HARNESS_H
#define POP3D_FUZZ_HARNESS_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../io.h"
#include "../log.h"
#include "../mailbox.h"
#include "../params.h"
#include "../state.h"

#include <limits.h>
#include <stdint.h>

#define CHECK(x) do { if (!(x)) { fprintf(stderr, "check failed: %s\n", #x); \
	abort(); } } while (0)

static char harness_path[64];

static inline void harness_cleanup(void)
{
	char cmd[128];
	if (!harness_path[0])
		return;
	unlink(harness_path);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s.state'", harness_path);
	if (system(cmd) != 0)
		return;
}

static inline const char *harness_file(const char *name)
{
	struct stat st;
	const char *dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(harness_path, sizeof(harness_path), "%s/pop3d-fuzz-%s-XXXXXX",
	    dir, name);
	int fd = mkstemp(harness_path);
	if (fd < 0)
		abort();
	close(fd);
	atexit(harness_cleanup);
	return harness_path;
}

static inline void harness_state(void)
{
	char dir[96];
	snprintf(dir, sizeof(dir), "%s.state", harness_path);
	if (!state_open(dir))
		abort();
}

static inline const char *harness_mailbox(const char *name, char *cache)
{
	log_open(0);
	const char *path = harness_file(name);
	harness_state();
	snprintf(cache, PATH_MAX, "%s/" CACHE_FILE, state_dir());
	return path;
}

struct harness_parts {
	unsigned flags;
	const char *a, *b;
	size_t a_len, b_len;
};

static inline bool harness_split(const uint8_t *d, size_t n,
    struct harness_parts *p)
{
	if (n < 3)
		return false;
	p->flags = d[0];
	p->a_len = (size_t)(d[1] | d[2] << 8);
	if (p->a_len > n - 3)
		p->a_len = n - 3;
	p->a = (const char *)d + 3;
	p->b = p->a + p->a_len;
	p->b_len = n - 3 - p->a_len;
	return true;
}

static inline void harness_put(const char *path, const void *d, size_t n)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || (n > 0 && write(fd, d, n) != (ssize_t)n) ||
	    fchmod(fd, 0600) < 0)
		abort();
	close(fd);
}

static inline int harness_memfd(const void *d, size_t n)
{
	int fd = memfd_create("pop3d-fuzz", MFD_CLOEXEC);
	if (fd < 0 || (n > 0 && write(fd, d, n) != (ssize_t)n) ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

/* Is the reply text t[0..n) (CRLF as sent, dots stuffed) made of bytes
 * of f[0..fn) in order, once every line's CRLF is read as the LF it was
 * (or as nothing: a last line without LF gets one) and every stuffed dot
 * taken out?  A greedy walk: each byte of the text must come later in f
 * than the one before. */
static inline bool harness_drawn_from(const char *t, size_t n, const char *f,
    size_t fn)
{
	size_t j = 0;
	bool bol = true;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (bol && c == '.' && i + 1 < n && t[i + 1] == '.')
			i++;	/* the stuffed dot */
		bol = false;
		if (c == '\r' && i + 1 < n && t[i + 1] == '\n') {
			i++;
			c = '\n';
			bol = true;
		}
		while (j < fn && f[j] != c)
			j++;
		if (j == fn)
			return c == '\n' && i + 1 == n;	/* the added CRLF */
		j++;
	}
	return true;
}

static inline enum mb_status harness_serve(struct mailbox *mb, size_t i,
    long lines, const char *file, size_t size)
{
	static int out = -1;
	if (out < 0 && (out = memfd_create("pop3d-fuzz-out", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(out, 0) < 0 || lseek(out, 0, SEEK_SET) != 0)
		abort();
	io_init(-1, out, 1);
	const struct message *m = &mb->ix.msg[i];
	enum mb_status st = mailbox_send(mb, i, lines);
	io_flush();
	off_t n = lseek(out, 0, SEEK_END);
	char *r = malloc((size_t)n + 1);
	CHECK(r && pread(out, r, (size_t)n, 0) == n);
	r[n] = '\0';
	CHECK(st == MB_OK || st == MB_CHANGED || st == MB_CUT);
	if (st == MB_CHANGED)
		CHECK(n == 0);
	if (n == 0) {
		free(r);
		return st;
	}
	unsigned long long octets = m->octets;
	char *crlf = strstr(r, "\r\n");
	if (lines < 0)
		CHECK(crlf && sscanf(r, "+OK %llu octets", &octets) == 1 &&
		    octets == m->octets);
	else
		CHECK(crlf && strncmp(r, "+OK top of message follows\r\n",
		    (size_t)(crlf + 2 - r)) == 0);
	off_t head = crlf + 2 - r, text = n;
	if (st == MB_OK) {
		CHECK(n >= head + 3 && memcmp(r + n - 3, ".\r\n", 3) == 0);
		CHECK(n == head + 3 || (r[n - 5] == '\r' && r[n - 4] == '\n'));
		text = n - 3;
		/* Walk the lines between the first line and the final ".". */
		unsigned long long got = 0;
		for (off_t p = head; p < text; ) {
			char *lf = memchr(r + p, '\n', (size_t)(text - p));
			CHECK(lf && lf > r + p && lf[-1] == '\r');
			size_t len = (size_t)(lf + 1 - (r + p));
			if (r[p] == '.') {
				CHECK(len > 3 && r[p + 1] == '.');	/* stuffed */
				len--;
			}
			got += len;
			p = lf + 1 - r;
		}
		if (got != octets && lines < 0)
			fprintf(stderr, "message %zu: sent %llu octets, said "
			    "%llu\n", i + 1, got, octets);
		CHECK(lines < 0 ? got == octets : got <= octets);
	}
	off_t lo = m->data < (off_t)size ? m->data : (off_t)size;
	off_t hi = m->end < (off_t)size ? m->end : (off_t)size;
	CHECK(harness_drawn_from(r + head, (size_t)(text - head), file + lo,
	    (size_t)(hi - lo)));
	free(r);
	return st;
}

#endif
