/*
 * mailbox.c: mbox scanning, message output and UPDATE.  See mailbox.h.
 *
 * The mbox convention (mboxo/mboxrd as Debian's MDAs write it): a message
 * starts at a "From " line at the start of the file or after a blank line;
 * the blank line before the next "From " line, and a blank line ending the
 * file, belong to the separator, not to the message.  ">From " lines are
 * served as stored.  Sizes are exact (RFC 1939 section 11): every LF counts
 * as CRLF, a last line without LF gets a CRLF, dot-stuffing is not counted,
 * and the bookkeeping headers that mail programs keep in mboxes (Status,
 * X-Status, X-Keywords, X-UID, X-IMAP, X-IMAPbase, X-Dovecot-*) are hidden
 * from clients and from the counts.
 */
#include "mailbox.h"
#include "io.h"
#include "log.h"
#include "params.h"

#include <errno.h>
#include <fcntl.h>
#include <sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* A sequential reader over [offset, limit) of the file, in large blocks. */
struct reader {
	int fd;
	char *buf;
	size_t cap;
	off_t base;		/* file offset of buf[0] */
	size_t pos, len;	/* unread bytes are buf[pos..len) */
	off_t limit;
	bool eof;
	int err;		/* errno of a failed read */
};

static void reader_init(struct reader *r, int fd, char *buf, size_t cap,
    off_t from, off_t limit)
{
	*r = (struct reader){ .fd = fd, .buf = buf, .cap = cap, .base = from,
	    .limit = limit };
}

/* Makes at least `want` bytes readable at pos unless the limit or EOF comes
 * first; returns how many are readable.  EINTR is retried; any other error
 * is kept in r->err and ends the data. */
static size_t reader_fill(struct reader *r, size_t want)
{
	if (r->len - r->pos >= want || r->eof)
		return r->len - r->pos;
	memmove(r->buf, r->buf + r->pos, r->len - r->pos);
	r->base += (off_t)r->pos;
	r->len -= r->pos;
	r->pos = 0;
	while (r->len < want && !r->eof) {
		off_t at = r->base + (off_t)r->len;
		size_t room = r->cap - r->len;
		if ((off_t)room > r->limit - at)
			room = (size_t)(r->limit - at);
		if (room == 0) {
			r->eof = true;
			break;
		}
		ssize_t n = pread(r->fd, r->buf + r->len, room, at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				r->err = errno;
			r->eof = true;
			break;
		}
		r->len += (size_t)n;
	}
	return r->len - r->pos;
}

static off_t reader_offset(const struct reader *r)
{
	return r->base + (off_t)r->pos;
}

enum header_class { HDR_KEEP, HDR_NODIGEST, HDR_HIDE };

/* Headers that mail programs, not senders, write into an mbox.  They are
 * hidden from clients; they and Content-Length/Lines (which MUAs rewrite)
 * are left out of the UIDL digest so that ids survive such rewrites. */
static enum header_class classify(const char *p, size_t n)
{
	static const struct { const char *name; enum header_class c; } h[] = {
		{ "Status:", HDR_HIDE },	{ "X-Status:", HDR_HIDE },
		{ "X-Keywords:", HDR_HIDE },	{ "X-UID:", HDR_HIDE },
		{ "X-IMAP:", HDR_HIDE },	{ "X-IMAPbase:", HDR_HIDE },
		{ "X-Dovecot-", HDR_HIDE },	{ "Content-Length:", HDR_NODIGEST },
		{ "Lines:", HDR_NODIGEST },
	};
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		size_t k = strlen(h[i].name);
		if (n >= k && strncasecmp(p, h[i].name, k) == 0)
			return h[i].c;
	}
	return HDR_KEEP;
}

static bool is_blank(const char *p, size_t n)
{
	return (n >= 1 && p[0] == '\n') ||
	    (n >= 2 && p[0] == '\r' && p[1] == '\n');
}

static bool is_from(const char *p, size_t n)
{
	return n >= 5 && memcmp(p, "From ", 5) == 0;
}

/* Consumes one line from the reader; returns its length (LF included) and
 * whether it ended with LF.  Feeds it to ctx when ctx is not NULL. */
static off_t consume_line(struct reader *r, bool *lf, SHA2_CTX *ctx)
{
	off_t n = 0;
	*lf = false;
	while (reader_fill(r, 1) > 0) {
		char *p = r->buf + r->pos;
		size_t avail = r->len - r->pos;
		char *e = memchr(p, '\n', avail);
		size_t k = e ? (size_t)(e - p) + 1 : avail;
		if (ctx)
			SHA256Update(ctx, (const uint8_t *)p, k);
		r->pos += k;
		n += (off_t)k;
		if (e) {
			*lf = true;
			break;
		}
	}
	return n;
}

struct scan {
	struct message *m;	/* the message being scanned, or NULL */
	SHA2_CTX ctx;
	bool in_headers;
	enum header_class hclass;
	uint64_t header_octets;
	off_t blank_off;	/* the last line, if it was blank */
	uint64_t blank_octets;
	bool last_blank;
};

/* Ends the current message at `end` (the separator excluded). */
static void finish(struct scan *s, off_t end, bool drop_blank)
{
	struct message *m = s->m;
	if (!m)
		return;
	if (drop_blank) {
		m->end = s->blank_off;
		m->octets -= s->blank_octets;
		if (s->in_headers)
			s->header_octets = m->octets;
	} else {
		m->end = end;
	}
	if (s->in_headers)
		s->header_octets = m->octets;
	uint64_t body = m->octets - s->header_octets;
	uint8_t le[8], full[SHA256_DIGEST_LENGTH];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(body >> (8 * i));
	SHA256Update(&s->ctx, (const uint8_t *)"\n", 1);
	SHA256Update(&s->ctx, le, sizeof(le));
	SHA256Final(full, &s->ctx);
	memcpy(m->digest, full, DIGEST_BYTES);
	s->m = NULL;
}

static const struct message *sorting;

static int cmp_digest(const void *a, const void *b)
{
	const struct message *msg = sorting;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = memcmp(msg[x].digest, msg[y].digest, DIGEST_BYTES);
	return c ? c : (x > y) - (x < y);
}

/* Numbers identical messages 1, 2, 3... in mailbox order. */
static bool number_duplicates(struct mailbox *mb)
{
	if (mb->count == 0)
		return true;
	uint32_t *order = malloc(mb->count * sizeof(*order));
	if (!order)
		return false;
	for (size_t i = 0; i < mb->count; i++)
		order[i] = (uint32_t)i;
	sorting = mb->msg;
	qsort(order, mb->count, sizeof(*order), cmp_digest);
	for (size_t i = 0; i < mb->count; i++) {
		struct message *m = &mb->msg[order[i]];
		m->occurrence = 1;
		if (i > 0 && memcmp(mb->msg[order[i - 1]].digest, m->digest,
		    DIGEST_BYTES) == 0)
			m->occurrence = mb->msg[order[i - 1]].occurrence + 1;
	}
	free(order);
	return true;
}

static size_t max_messages = DEFAULT_MAX_MESSAGES;
static long long max_bytes = DEFAULT_MAX_MAILBOX_BYTES;

void mailbox_limits(size_t messages, long long bytes)
{
	max_messages = messages;
	max_bytes = bytes;
}

static enum mb_status grow(struct mailbox *mb, size_t *alloc)
{
	if (mb->count < *alloc)
		return MB_OK;
	if (*alloc >= max_messages)
		return MB_TOOBIG;
	size_t n = *alloc ? *alloc * 2 : 64;
	if (n > max_messages)
		n = max_messages;
	struct message *p = realloc(mb->msg, n * sizeof(*p));
	if (!p)
		return MB_SYSERR;
	mb->msg = p;
	*alloc = n;
	return MB_OK;
}

/* One sequential pass over [0, size): the index of every message. */
static enum mb_status scan(struct mailbox *mb, off_t size)
{
	char *buf = malloc(SCAN_BUFFER);
	if (!buf)
		return MB_SYSERR;
	struct reader r;
	reader_init(&r, mb->fd, buf, SCAN_BUFFER, 0, size);
	struct scan s = { .last_blank = true };
	size_t alloc = 0;
	enum mb_status st = MB_OK;
	bool first = true;

	for (;;) {
		size_t avail = reader_fill(&r, 16);
		if (avail == 0)
			break;
		const char *p = r.buf + r.pos;
		off_t off = reader_offset(&r);
		bool lf;
		if (s.last_blank && is_from(p, avail)) {
			finish(&s, off, !first);
			if ((st = grow(mb, &alloc)) != MB_OK)
				goto out;
			s.m = &mb->msg[mb->count++];
			*s.m = (struct message){ .start = off };
			consume_line(&r, &lf, NULL);
			s.m->data = reader_offset(&r);
			SHA256Init(&s.ctx);
			s.in_headers = true;
			s.hclass = HDR_KEEP;
			s.header_octets = 0;
			s.last_blank = false;
			first = false;
			continue;
		}
		if (!s.m) {
			st = MB_NOTMBOX;
			goto out;
		}
		bool blank = is_blank(p, avail);
		enum header_class c = HDR_KEEP;
		if (s.in_headers) {
			if (blank) {
				s.in_headers = false;
				s.header_octets = s.m->octets;
			} else if (p[0] == ' ' || p[0] == '\t') {
				c = s.hclass;	/* a continuation line */
			} else {
				c = s.hclass = classify(p, avail);
			}
		}
		off_t n = consume_line(&r, &lf,
		    s.in_headers && c == HDR_KEEP ? &s.ctx : NULL);
		uint64_t octets = (uint64_t)n + (lf ? 1 : 2);
		if (c != HDR_HIDE)
			s.m->octets += octets;
		s.last_blank = blank;
		if (blank) {
			s.blank_off = off;
			s.blank_octets = octets;
		}
	}
	if (r.err) {
		errno = r.err;
		st = MB_SYSERR;
		goto out;
	}
	finish(&s, reader_offset(&r), s.last_blank && s.m &&
	    s.blank_off >= s.m->data && mb->count > 0);
	mb->scanned = reader_offset(&r);
	if (!number_duplicates(mb))
		st = MB_SYSERR;
out:
	free(buf);
	return st;
}

/* fcntl record lock on the whole file; waits.  (Dotlocks and bounded waits
 * belong to the locking module.) */
static bool lock(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };
	while (fcntl(fd, F_SETLKW, &fl) < 0) {
		if (errno != EINTR)
			return false;
	}
	return true;
}

enum mb_status mailbox_open(struct mailbox *mb, const char *path)
{
	*mb = (struct mailbox){ .path = path, .fd = -1 };
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? MB_OK :
		    errno == ELOOP ? MB_UNSAFE : MB_SYSERR;
	mb->fd = fd;
	if (fstat(fd, &mb->st) < 0)
		return MB_SYSERR;
	if (!S_ISREG(mb->st.st_mode) || mb->st.st_nlink != 1 ||
	    mb->st.st_uid != geteuid())
		return MB_UNSAFE;
	if (fcntl(fd, F_SETFL, 0) < 0)
		return MB_SYSERR;
	if (mb->st.st_size > max_bytes)
		return MB_TOOBIG;
	if (!lock(fd, F_RDLCK))
		return MB_SYSERR;
	if (fstat(fd, &mb->st) < 0) {
		lock(fd, F_UNLCK);
		return MB_SYSERR;
	}
	if (mb->st.st_size > max_bytes) {
		lock(fd, F_UNLCK);
		return MB_TOOBIG;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	enum mb_status st = scan(mb, mb->st.st_size);
	lock(fd, F_UNLCK);
	return st;
}

/* Has the file kept at least what was scanned? */
static bool file_intact(struct mailbox *mb, struct stat *now)
{
	return fstat(mb->fd, now) == 0 && now->st_size >= mb->scanned &&
	    now->st_ino == mb->st.st_ino;
}

/* Is message m still where the index says?  Its From_ line must still start
 * at m->start, after a newline. */
static bool boundary_intact(struct mailbox *mb, const struct message *m)
{
	char b[6];
	off_t at = m->start > 0 ? m->start - 1 : 0;
	size_t want = m->start > 0 ? 6 : 5;
	if (pread(mb->fd, b, want, at) != (ssize_t)want)
		return false;
	return m->start == 0 ? memcmp(b, "From ", 5) == 0 :
	    b[0] == '\n' && memcmp(b + 1, "From ", 5) == 0;
}

/* Copies in[0..n) to the connection: LF becomes CRLF and a '.' starting a
 * line is doubled (RFC 1939 section 3).  *bol says whether in[0] starts a
 * line; *lines, when >= 0, counts down body lines and stops at zero. */
static size_t emit(const char *in, size_t n, bool *bol, long *lines)
{
	char *out = io_space(2 * n + 2);
	size_t o = 0, i = 0;
	while (i < n) {
		if (*lines == 0)
			break;
		if (*bol && in[i] == '.')
			out[o++] = '.';
		const char *lf = memchr(in + i, '\n', n - i);
		size_t k = lf ? (size_t)(lf - (in + i)) : n - i;
		memcpy(out + o, in + i, k);
		o += k;
		i += k;
		if (lf) {
			out[o++] = '\r';
			out[o++] = '\n';
			i++;
			*bol = true;
			if (*lines > 0)
				(*lines)--;
		} else {
			*bol = false;
		}
	}
	io_commit(o);
	return i;
}

enum mb_status mailbox_send(struct mailbox *mb, size_t i, long lines)
{
	struct message *m = &mb->msg[i];
	struct stat now;
	if (!file_intact(mb, &now) || !boundary_intact(mb, m))
		return MB_CHANGED;
	static char buf[SEND_BUFFER];
	struct reader r;
	reader_init(&r, mb->fd, buf, sizeof(buf), m->data, m->end);
	bool bol = true, in_headers = true;
	enum header_class hclass = HDR_KEEP;
	long all = -1;
	io_printf("+OK %llu octets\r\n", (unsigned long long)m->octets);
	/* Headers line by line, leaving out the hidden ones. */
	while (in_headers && reader_fill(&r, 16) > 0) {
		const char *p = r.buf + r.pos;
		size_t avail = r.len - r.pos;
		if (is_blank(p, avail))
			in_headers = false;
		else if (p[0] != ' ' && p[0] != '\t')
			hclass = classify(p, avail);
		if (in_headers && hclass == HDR_HIDE) {
			bool lf;
			consume_line(&r, &lf, NULL);
			continue;
		}
		do {
			const char *q = r.buf + r.pos;
			size_t n = r.len - r.pos;
			const char *e = memchr(q, '\n', n);
			size_t k = e ? (size_t)(e - q) + 1 : n;
			if (k > SEND_BUFFER / 2)
				k = SEND_BUFFER / 2;
			r.pos += emit(q, k, &bol, &all);
		} while (!bol && reader_fill(&r, 1) > 0);
	}
	/* The body, in large blocks. */
	while (lines != 0 && reader_fill(&r, 1) > 0) {
		size_t n = r.len - r.pos;
		if (n > SEND_BUFFER / 2)
			n = SEND_BUFFER / 2;
		r.pos += emit(r.buf + r.pos, n, &bol, &lines);
	}
	if (r.err) {
		errno = r.err;
		return MB_SYSERR;
	}
	io_puts(bol ? ".\r\n" : "\r\n.\r\n");
	return MB_OK;
}

void mailbox_uidl(const struct mailbox *mb, size_t i, char *buf)
{
	const struct message *m = &mb->msg[i];
	for (int k = 0; k < DIGEST_BYTES; k++)
		sprintf(buf + 2 * k, "%02x", m->digest[k]);
	if (m->occurrence > 1)
		sprintf(buf + 2 * DIGEST_BYTES, "-%u", m->occurrence);
}

/* Writes all of buf at off.  A short write is continued, EINTR retried;
 * anything else (ENOSPC, EIO, EDQUOT) fails the whole UPDATE. */
static bool pwrite_all(int fd, const char *buf, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, buf, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		buf += w;
		n -= (size_t)w;
		off += w;
	}
	return true;
}

/* Moves [from, to) of the file down to dst (dst <= from). */
static bool move_down(int fd, char *buf, size_t cap, off_t from, off_t to,
    off_t dst)
{
	while (from < to) {
		size_t n = (size_t)(to - from) < cap ? (size_t)(to - from) : cap;
		ssize_t got = pread(fd, buf, n, from);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;
		if (!pwrite_all(fd, buf, (size_t)got, dst))
			return false;
		from += got;
		dst += got;
	}
	return true;
}

enum mb_status mailbox_update(struct mailbox *mb)
{
	size_t first = 0;
	while (first < mb->count && !mb->msg[first].deleted)
		first++;
	if (first == mb->count)
		return MB_OK;
	if (!lock(mb->fd, F_WRLCK))
		return MB_SYSERR;
	enum mb_status st = MB_CHANGED;
	struct stat now;
	if (!file_intact(mb, &now))
		goto out;
	for (size_t i = 0; i < mb->count; i++)
		if (!boundary_intact(mb, &mb->msg[i]))
			goto out;
	st = MB_SYSERR;
	char *buf = malloc(SCAN_BUFFER);
	if (!buf)
		goto out;
	off_t dst = mb->msg[first].start;
	for (size_t i = first; i < mb->count; i++) {
		off_t from = mb->msg[i].start;
		off_t to = i + 1 < mb->count ? mb->msg[i + 1].start : mb->scanned;
		if (mb->msg[i].deleted)
			continue;
		if (!move_down(mb->fd, buf, SCAN_BUFFER, from, to, dst))
			goto fail;
		dst += to - from;
	}
	/* Mail delivered since the scan is kept, byte for byte. */
	if (!move_down(mb->fd, buf, SCAN_BUFFER, mb->scanned, now.st_size, dst))
		goto fail;
	dst += now.st_size - mb->scanned;
	if (ftruncate(mb->fd, dst) < 0 || fsync(mb->fd) < 0)
		goto fail;
	st = MB_OK;
fail:
	free(buf);
out:
	lock(mb->fd, F_UNLCK);
	return st;
}

void mailbox_close(struct mailbox *mb)
{
	if (mb->fd >= 0)
		close(mb->fd);
	free(mb->msg);
	mb->fd = -1;
	mb->msg = NULL;
	mb->count = 0;
}

const char *mailbox_strerror(enum mb_status s)
{
	switch (s) {
	case MB_OK: return "ok";
	case MB_NOTMBOX: return "not an mbox (does not start with \"From \")";
	case MB_UNSAFE: return "not a regular file owned by the user with one link";
	case MB_TOOBIG: return "too large";
	case MB_CHANGED: return "changed by another program";
	case MB_SYSERR: return strerror(errno);
	}
	return "?";
}
