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
 * from clients and from the counts, and so is UW IMAP's "FOLDER INTERNAL
 * DATA" pseudo-message.  A Content-Length header is honoured only where it
 * is consistent (see length_end()).  Locking is lock.c's, UPDATE update.c's.
 */
/* memrchr: in glibc, musl and the BSDs. */
#define _GNU_SOURCE
#include "mailbox.h"
#include "cache.h"
#include "digest.h"
#include "io.h"
#include "lock.h"
#include "log.h"
#include "params.h"
#include "state.h"
#include "uidl.h"
#include "update.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
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
	switch (p[0] | 0x20) {	/* most headers start with none of these */
	case 's': case 'x': case 'c': case 'l':
		break;
	default:
		return HDR_KEEP;
	}
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
 * whether it ended with LF.  Feeds it to ctx and u when they are not NULL. */
static off_t consume_line(struct reader *r, bool *lf, digest_ctx *ctx,
    struct uidl_state *u)
{
	off_t n = 0;
	*lf = false;
	while (reader_fill(r, 1) > 0) {
		char *p = r->buf + r->pos;
		size_t avail = r->len - r->pos;
		char *e = memchr(p, '\n', avail);
		size_t k = e ? (size_t)(e - p) + 1 : avail;
		if (ctx)
			digest_add(ctx, p, k);
		if (u)
			uidl_feed(u, p, k);
		r->pos += k;
		n += (off_t)k;
		if (e) {
			*lf = true;
			break;
		}
	}
	return n;
}

/* UW IMAP's pseudo-message, kept first in a folder to hold its metadata. */
#define UW_PSEUDO_SUBJECT "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"

struct scan {
	struct message *m;	/* the message being scanned, or NULL */
	digest_ctx ctx;
	bool in_headers;
	enum header_class hclass;
	uint64_t header_octets;
	off_t blank_off;	/* the last line, if it was blank */
	uint64_t blank_octets;
	bool last_blank;
	off_t length_end;	/* a consistent Content-Length ends the body
				   here: no "From " line starts a message
				   before it */
	long long content_length;	/* -1: none seen */
	bool x_imap, uw_subject;	/* the UW pseudo-message's marks */
	struct uidl_state u;
};

/* Ends the current message at `end` (the separator excluded). */
static void finish(struct mailbox *mb, struct scan *s, off_t end,
    bool drop_blank)
{
	struct message *m = s->m;
	if (!m)
		return;
	if (drop_blank) {
		m->end = s->blank_off;
		m->octets -= s->blank_octets;
	} else {
		m->end = end;
	}
	if (s->in_headers)
		s->header_octets = m->octets;
	uint64_t body = m->octets - s->header_octets;
	uint8_t le[8], full[SHA256_BYTES];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(body >> (8 * i));
	digest_add(&s->ctx, "\n", 1);
	digest_add(&s->ctx, le, sizeof(le));
	digest_end(&s->ctx, full);
	memcpy(m->digest, full, DIGEST_BYTES);
	size_t i = (size_t)(m - mb->msg);
	if (i == 0 && s->u.uidvalidity)
		mb->uidvalidity = s->u.uidvalidity;
	if (mb->alt)
		uidl_end(&s->u, mb->uidl, mb->uidvalidity, mb->alt[i]);
	/* Like Dovecot, hide UW's pseudo-message (when it comes first). */
	if (i == 0 && m->start == 0 && s->x_imap && s->uw_subject)
		mb->count = 0;
	s->m = NULL;
}

/* Numbers identical messages 1, 2, 3... in mailbox order: a message's
 * occurrence is one more than that of the last earlier message with the
 * same digest.  One pass with an open-addressing table of message numbers;
 * the slot comes from the digest keyed with a per-process secret, so that
 * mail crafted for colliding digest bits cannot make the pass quadratic.
 * Messages before `fresh` are numbered already (from the index cache): a
 * few new ones are numbered against them directly. */
static bool number_duplicates(struct mailbox *mb, size_t fresh)
{
	if (fresh > 0 && mb->count - fresh <= CACHE_RENUMBER_MAX) {
		for (size_t j = fresh; j < mb->count; j++) {
			struct message *m = &mb->msg[j];
			m->occurrence = 1;
			for (size_t i = j; i-- > 0; )
				if (memcmp(mb->msg[i].digest, m->digest,
				    DIGEST_BYTES) == 0) {
					m->occurrence = mb->msg[i].occurrence + 1;
					break;
				}
		}
		return true;
	}
	static uint64_t key;
	if (key == 0 && getentropy(&key, sizeof(key)) < 0)
		key = (uint64_t)getpid() * 0x9e3779b97f4a7c15u;
	int bits = 6;
	while (bits < 40 && (size_t)1 << bits < 2 * mb->count)
		bits++;
	size_t mask = ((size_t)1 << bits) - 1;
	uint32_t *slot = calloc(mask + 1, sizeof(*slot));	/* i + 1 */
	if (!slot)
		return false;
	for (size_t i = 0; i < mb->count; i++) {
		struct message *m = &mb->msg[i];
		uint64_t h;
		memcpy(&h, m->digest, sizeof(h));
		size_t k = (size_t)(((h ^ key) * 0x9e3779b97f4a7c15u) >>
		    (64 - bits));
		m->occurrence = 1;
		for (;; k = (k + 1) & mask) {
			if (slot[k] == 0)
				break;
			const struct message *o = &mb->msg[slot[k] - 1];
			if (memcmp(o->digest, m->digest, DIGEST_BYTES) == 0) {
				m->occurrence = o->occurrence + 1;
				break;
			}
		}
		slot[k] = (uint32_t)(i + 1);
	}
	free(slot);
	return true;
}

static size_t max_messages = DEFAULT_MAX_MESSAGES;
static long long max_bytes = DEFAULT_MAX_MAILBOX_BYTES;

void mailbox_limits(size_t messages, long long bytes)
{
	max_messages = messages;
	max_bytes = bytes;
}

static enum mb_status grow(struct mailbox *mb)
{
	if (mb->count < mb->alloc)
		return MB_OK;
	if (mb->alloc >= max_messages)
		return MB_TOOBIG;
	size_t n = mb->alloc ? mb->alloc * 2 : 64;
	if (n > max_messages)
		n = max_messages;
	/* Large arrays are mmap()ed by malloc and grown by mremap(): pages
	 * beyond the last message are never touched and cost no memory.  An
	 * index mapped from the cache is copied out of it first. */
	struct message *p = realloc(mb->map ? NULL : mb->msg, n * sizeof(*p));
	if (!p)
		return MB_SYSERR;
	if (mb->map) {
		memcpy(p, mb->msg, mb->count * sizeof(*p));
		cache_unmap(mb);
	}
	mb->msg = p;
	if (mb->uidl != UIDL_OWN) {
		char (*a)[UIDL_MAX + 1] = realloc(mb->alt, n * sizeof(*a));
		if (!a)
			return MB_SYSERR;
		mb->alt = a;
	}
	mb->alloc = n;
	return MB_OK;
}

/* Content-Length is honoured only where it is consistent: the body it
 * gives ends at the end of the data, or just before a blank line that is
 * followed by the end or by a "From " line. */
static off_t length_end(int fd, off_t body, long long length, off_t size)
{
	char b[6];
	if (length < 0 || length > size - body)
		return -1;
	off_t at = body + (off_t)length;
	if (at == size)
		return at;
	size_t want = size - at >= 6 ? 6 : (size_t)(size - at);
	if (pread(fd, b, want, at) != (ssize_t)want || b[0] != '\n')
		return -1;
	return want == 1 || (want == 6 && memcmp(b + 1, "From ", 5) == 0) ?
	    at : -1;
}

/* A header line that the scan must look at closely (the first bytes of the
 * line are in memory). */
static void header_marks(struct mailbox *mb, struct scan *s, const char *p,
    size_t avail)
{
	if ((p[0] | 0x20) == 'c' && avail >= 15 &&
	    strncasecmp(p, "Content-Length:", 15) == 0) {
		long long v = 0;
		size_t i = 15;
		while (i < avail && p[i] == ' ')
			i++;
		size_t d = i;
		for (; i < avail && i - d < 18 && p[i] >= '0' && p[i] <= '9'; i++)
			v = v * 10 + (p[i] - '0');
		while (i < avail && (p[i] == ' ' || p[i] == '\r'))
			i++;
		s->content_length = i > d && i < avail && p[i] == '\n' ? v : -1;
	}
	if (mb->count == 1 && s->m->start == 0) {
		static const char subj[] = "Subject: " UW_PSEUDO_SUBJECT;
		if (avail >= 7 && strncasecmp(p, "X-IMAP:", 7) == 0)
			s->x_imap = true;
		if (avail >= sizeof(subj) - 1 && memcmp(p, subj,
		    sizeof(subj) - 1) == 0)
			s->uw_subject = true;
	}
}

/* Bytes looked at in one step: 32, in AVX2 registers where the CPU has
 * them (target_clones: the loader picks the variant), else in two SSE2
 * (x86-64) or NEON (arm64) halves. */
#define VW 32
typedef unsigned char vec __attribute__((vector_size(VW)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define WIDE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define WIDE_CLONES
#endif

/* The sum of the lanes of a byte counter. */
static inline size_t lanes(const vec *acc)
{
	size_t c = 0;
	for (int k = 0; k < VW; k++)
		c += (*acc)[k];
	return c;
}

/* The first "\nFrom " in [p, e), or NULL; adds the LFs before it (or in
 * all of [p, e)) to *lfs.  glibc's memmem alone takes 3x longer: here LFs
 * and "\nF" pairs are found VW bytes at a time and only the pairs are
 * compared, in the same pass that counts. */
WIDE_CLONES
static const char *find_from_line(const char *p, const char *e, size_t *lfs)
{
	const vec nl = (vec){ 0 } + '\n', f = (vec){ 0 } + 'F';
	vec acc = { 0 };
	int blocks = 0;
	for (; e - p >= VW + 1; p += VW) {
		vec a, b;
		uint64_t w[VW / 8], any = 0;
		memcpy(&a, p, VW);
		memcpy(&b, p + 1, VW);
		vec lf = (vec)(a == nl), m = lf & (vec)(b == f);
		memcpy(w, &m, VW);
		for (int k = 0; k < VW / 8; k++)
			any |= w[k];
		if (any) {
			for (int k = 0; k < VW; k++)
				if (m[k] && memcmp(p + k, "\nFrom ", 6) == 0) {
					*lfs += lanes(&acc);
					for (int j = 0; j < k; j++)
						*lfs += p[j] == '\n';
					return p + k;
				}
		}
		acc -= lf;	/* a match is all ones: -1 */
		if (++blocks == 255) {	/* a byte lane counts to 255 */
			*lfs += lanes(&acc);
			acc = (vec){ 0 };
			blocks = 0;
		}
	}
	*lfs += lanes(&acc);
	for (; e - p >= 6; p++) {
		if (memcmp(p, "\nFrom ", 6) == 0)
			return p;
		*lfs += *p == '\n';
	}
	for (; p < e; p++)
		*lfs += *p == '\n';
	return NULL;
}

/* The length of the blank line ("\n" or "\r\n") ending with the LF at lf,
 * or 0 if that line is not blank; p is a line start at or before lf. */
static size_t blank_length(const char *p, const char *lf)
{
	if (lf == p || lf[-1] == '\n')
		return 1;
	if (lf[-1] == '\r' && (lf - 1 == p || lf[-2] == '\n'))
		return 2;
	return 0;
}

/* Body lines in bulk, from a line start: everything up to the next "From "
 * line that follows a blank line, else up to the last LF in the buffer.  The
 * body needs only its octets (each LF counts twice) and whether its last
 * line was blank, so no line is looked at on its own. */
static void scan_body(struct scan *s, struct reader *r)
{
	const char *p = r->buf + r->pos, *e = r->buf + r->len;
	const char *lf = NULL, *x = p;
	size_t lfs = 0;		/* in [p, x) */
	off_t base = reader_offset(r);
	/* A consistent Content-Length says where the next message starts. */
	while ((x = find_from_line(x, e, &lfs))) {
		if (base + (x + 1 - p) >= s->length_end && blank_length(p, x)) {
			lf = x;
			break;
		}
		lfs++;
		x++;
	}
	if (lf)
		lfs++;		/* its own */
	else			/* lfs counts all of [p, e) */
		lf = memrchr(p, '\n', (size_t)(e - p));
	if (!lf) {
		/* A line longer than what is buffered, or a last line without
		 * LF: neither is blank. */
		bool has_lf;
		off_t n = consume_line(r, &has_lf, NULL, NULL);
		s->m->octets += (uint64_t)n + (has_lf ? 1 : 2);
		s->last_blank = false;
		return;
	}
	size_t n = (size_t)(lf + 1 - p), k = blank_length(p, lf);
	s->m->octets += n + lfs;
	s->last_blank = k > 0;
	if (k) {
		s->blank_off = reader_offset(r) + (off_t)(n - k);
		s->blank_octets = k + 1;
	}
	r->pos += n;
}

/* One sequential pass over [from, to), which must start with a message
 * (or be empty): its messages are appended to the index. */
static enum mb_status scan(struct mailbox *mb, off_t from, off_t to)
{
	char *buf = malloc(SCAN_BUFFER);
	if (!buf)
		return MB_SYSERR;
	struct reader r;
	reader_init(&r, mb->fd, buf, SCAN_BUFFER, from, to);
	struct scan s = { .last_blank = true, .length_end = -1 };
	enum mb_status st = MB_OK;
	bool first = true;

	for (;;) {
		size_t avail = reader_fill(&r, 128);
		if (avail == 0)
			break;
		const char *p = r.buf + r.pos;
		off_t off = reader_offset(&r);
		bool lf;
		if (s.last_blank && is_from(p, avail) && off >= s.length_end) {
			finish(mb, &s, off, !first);
			if ((st = grow(mb)) != MB_OK)
				goto out;
			s.m = &mb->msg[mb->count++];
			*s.m = (struct message){ .start = off };
			consume_line(&r, &lf, NULL, NULL);
			s.m->data = reader_offset(&r);
			digest_begin(&s.ctx);
			uidl_begin(&s.u);
			s.in_headers = true;
			s.hclass = HDR_KEEP;
			s.header_octets = 0;
			s.last_blank = false;
			s.content_length = -1;
			s.x_imap = s.uw_subject = false;
			first = false;
			continue;
		}
		if (!s.m) {
			st = MB_NOTMBOX;
			goto out;
		}
		if (!s.in_headers) {
			scan_body(&s, &r);
			continue;
		}
		/* Headers, line by line. */
		bool blank = is_blank(p, avail), md5 = false;
		enum header_class c = HDR_KEEP;
		if (blank) {
			s.in_headers = false;
			s.header_octets = s.m->octets;
			s.length_end = length_end(mb->fd, off +
			    (p[0] == '\r' ? 2 : 1), s.content_length, to);
		} else if (p[0] == ' ' || p[0] == '\t') {
			c = s.hclass;	/* a continuation line */
			md5 = uidl_header(&s.u, mb->uidl, p, avail);
		} else {
			c = s.hclass = classify(p, avail);
			header_marks(mb, &s, p, avail);
			md5 = uidl_header(&s.u, mb->uidl, p, avail);
		}
		off_t n = consume_line(&r, &lf,
		    s.in_headers && c == HDR_KEEP ? &s.ctx : NULL,
		    md5 ? &s.u : NULL);
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
	finish(mb, &s, reader_offset(&r), s.last_blank && s.m &&
	    s.blank_off >= s.m->data && mb->count > 0);
	mb->scanned = reader_offset(&r);
out:
	free(buf);
	return st;
}

/* Has the file changed since it was scanned or last verified?  An MDA's
 * append changes size and mtime; a rewrite changes mtime or ctime (with
 * nanoseconds); a replaced file changes the inode. */
static bool file_changed(const struct mailbox *mb, struct stat *now)
{
	if (fstat(mb->fd, now) < 0)
		return true;
	return now->st_ino != mb->st.st_ino || now->st_dev != mb->st.st_dev ||
	    now->st_size != mb->st.st_size ||
	    now->st_mtim.tv_sec != mb->st.st_mtim.tv_sec ||
	    now->st_mtim.tv_nsec != mb->st.st_mtim.tv_nsec ||
	    now->st_ctim.tv_sec != mb->st.st_ctim.tv_sec ||
	    now->st_ctim.tv_nsec != mb->st.st_ctim.tv_nsec;
}

/* Has the mailbox changed in the current tick of the file system clock?
 * Then a change after this scan could leave the same mtime and ctime, and
 * the index must not be cached (Git's "racily clean" problem). */
static bool changed_just_now(const struct stat *st)
{
	struct timespec now;
	if (clock_gettime(CLOCK_REALTIME_COARSE, &now) < 0)
		return true;
	return st->st_ctim.tv_sec > now.tv_sec ||
	    (st->st_ctim.tv_sec == now.tv_sec &&
	     st->st_ctim.tv_nsec >= now.tv_nsec);
}

/* The index: from the cache where it still describes the file, else by
 * scanning what it does not cover.  Called under the read lock. */
static enum mb_status index_mailbox(struct mailbox *mb, const char *dir)
{
	enum cache_result c = CACHE_OFF;
	if (dir && mb->st.st_size > 0)
		c = cache_load(mb, dir);
	mb->cache = c;
	log_msg(LOG_DEBUG, "index cache: %s", cache_result_name(c));
	/* A cache was written under other limits: --max-messages holds for it
	 * too (scan() checks the limit as it grows the index). */
	if (mb->count > max_messages)
		return MB_TOOBIG;
	if (c == CACHE_HIT)
		return MB_OK;
	size_t fresh = mb->count;
	enum mb_status st = scan(mb, mb->scanned, mb->st.st_size);
	if (st != MB_OK)
		return st;
	if (!number_duplicates(mb, fresh))
		return MB_SYSERR;
	if (c != CACHE_OFF && changed_just_now(&mb->st))
		log_msg(LOG_DEBUG, "index cache: not stored: the mailbox "
		    "changed in this clock tick");
	else if (c != CACHE_OFF)
		cache_store(mb, dir);
	return MB_OK;
}

/* Are messages [first, last) still exactly as indexed?  Rescans their
 * bytes and compares place, size and digest. */
static bool messages_intact(struct mailbox *mb, size_t first, size_t last)
{
	struct stat now;
	if (fstat(mb->fd, &now) < 0 || now.st_ino != mb->st.st_ino ||
	    now.st_size < mb->scanned)
		return false;
	if (first == last)
		return true;
	off_t from = mb->msg[first].start;
	off_t to = last < mb->count ? mb->msg[last].start : mb->scanned;
	struct mailbox again = { .fd = mb->fd, .uidl = UIDL_OWN };
	bool same = scan(&again, from, to) == MB_OK &&
	    again.count == last - first;
	for (size_t i = 0; same && i < again.count; i++) {
		const struct message *a = &again.msg[i], *b = &mb->msg[first + i];
		same = a->start == b->start && a->data == b->data &&
		    a->end == b->end && a->octets == b->octets &&
		    memcmp(a->digest, b->digest, DIGEST_BYTES) == 0;
	}
	free(again.msg);
	return same;
}

enum mb_status mailbox_open(struct mailbox *mb, const char *path,
    enum uidl_mode uidl)
{
	*mb = (struct mailbox){ .path = path, .fd = -1, .uidl = uidl };
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? MB_OK : errno == ELOOP ||
		    errno == EACCES ? MB_UNSAFE : MB_SYSERR;
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
	if (state_fd() >= 0) {
		int r = state_session_lock(mb->st.st_dev, mb->st.st_ino);
		if (r <= 0)
			return r == 0 ? MB_INUSE : MB_SYSERR;
	}
	struct lock lk;
	if (!lock_acquire(&lk, fd, path, true))
		return errno == EAGAIN ? MB_LOCKED : MB_SYSERR;
	enum mb_status st = MB_PENDING;
	if (update_recover(fd, &mb->st, &lk) != UPD_OK)
		goto out;
	st = MB_SYSERR;
	if (fstat(fd, &mb->st) < 0)
		goto out;
	st = MB_TOOBIG;
	if (mb->st.st_size > max_bytes)
		goto out;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	st = index_mailbox(mb, mb->uidl == UIDL_OWN ? state_dir() : NULL);
	if (st == MB_OK && mb->alt)
		uidl_unique(mb->alt, mb->count);
out:
	lock_release(&lk);
	return st;
}

/* Is there still a From_ line at `start`, after a newline? */
bool mailbox_at_boundary(const struct mailbox *mb, off_t start)
{
	char b[6];
	off_t at = start > 0 ? start - 1 : 0;
	size_t want = start > 0 ? 6 : 5;
	if (pread(mb->fd, b, want, at) != (ssize_t)want)
		return false;
	return start == 0 ? memcmp(b, "From ", 5) == 0 :
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

/* The block mailbox_send read last, kept for the next message: a client
 * that retrieves every message gets them through one pread per
 * SEND_BUFFER, not one or more per message.  It is a snapshot like any
 * read; every message sent from it is checked against the index first. */
static struct {
	char buf[SEND_BUFFER];
	off_t base;
	size_t len;
} ahead;

/* Bytes readable at the reader before `end` (at least `want` when the file
 * has them). */
static size_t readable(struct reader *r, off_t end, size_t want)
{
	size_t n = reader_fill(r, want);
	off_t left = end - reader_offset(r);
	return left < (off_t)n ? (size_t)left : n;
}

enum mb_status mailbox_send(struct mailbox *mb, size_t i, long lines)
{
	const struct message *m = &mb->msg[i];
	/* The file changed since the scan (new mail, or a rewrite): the
	 * message is verified again, and nothing read before is used. */
	struct stat now;
	if (file_changed(mb, &now)) {
		ahead.len = 0;
		if (!messages_intact(mb, i, i + 1))
			return MB_CHANGED;
	}
	/* Read from the LF before the From_ line: the check that the message
	 * is still where the index says comes with the first block. */
	off_t from = m->start > 0 ? m->start - 1 : 0;
	struct reader r;
	reader_init(&r, mb->fd, ahead.buf, sizeof(ahead.buf), from, mb->scanned);
	if (from >= ahead.base && from < ahead.base + (off_t)ahead.len) {
		r.base = ahead.base;
		r.len = ahead.len;
		r.pos = (size_t)(from - ahead.base);
	}
	size_t want = m->end - from < (off_t)sizeof(ahead.buf) ?
	    (size_t)(m->end - from) : sizeof(ahead.buf);
	bool intact = readable(&r, m->end, want) == want &&
	    (m->start == 0 ? is_from(r.buf + r.pos, want) : r.buf[r.pos] == '\n' &&
	     is_from(r.buf + r.pos + 1, want - 1));
	ahead.base = r.base;
	ahead.len = r.len;
	if (!intact) {
		ahead.len = 0;
		return r.err ? (errno = r.err, MB_SYSERR) : MB_CHANGED;
	}
	for (off_t skip = m->data - from; skip > 0; ) {	/* the From_ line */
		size_t n = readable(&r, m->end, 1);
		size_t k = (off_t)n < skip ? n : (size_t)skip;
		r.pos += k;
		skip -= (off_t)k;
	}
	bool bol = true, in_headers = true;
	enum header_class hclass = HDR_KEEP;
	long all = -1;
	size_t avail;
	io_printf("+OK %llu octets\r\n", (unsigned long long)m->octets);
	/* Headers line by line, leaving out the hidden ones. */
	while (in_headers && (avail = readable(&r, m->end, 16)) > 0) {
		const char *p = r.buf + r.pos;
		if (is_blank(p, avail))
			in_headers = false;
		else if (p[0] != ' ' && p[0] != '\t')
			hclass = classify(p, avail);
		if (in_headers && hclass == HDR_HIDE) {
			bool lf;
			consume_line(&r, &lf, NULL, NULL);
			continue;
		}
		do {
			const char *q = r.buf + r.pos;
			const char *e = memchr(q, '\n', avail);
			size_t k = e ? (size_t)(e - q) + 1 : avail;
			if (k > SEND_BUFFER / 2)
				k = SEND_BUFFER / 2;
			r.pos += emit(q, k, &bol, &all);
		} while (!bol && (avail = readable(&r, m->end, 1)) > 0);
	}
	/* The body, in large blocks. */
	while (lines != 0 && (avail = readable(&r, m->end, 1)) > 0)
		r.pos += emit(r.buf + r.pos, avail < SEND_BUFFER / 2 ? avail :
		    SEND_BUFFER / 2, &bol, &lines);
	ahead.base = r.base;
	ahead.len = r.len;
	if (r.err || (lines < 0 && reader_offset(&r) < m->end)) {
		/* Cut short after "+OK": only ending the session is honest. */
		errno = r.err ? r.err : EIO;
		ahead.len = 0;
		return MB_SYSERR;
	}
	io_puts(bol ? ".\r\n" : "\r\n.\r\n");
	return MB_OK;
}


void mailbox_uidl(const struct mailbox *mb, size_t i, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	const struct message *m = &mb->msg[i];
	if (mb->alt && mb->alt[i][0]) {
		memcpy(buf, mb->alt[i], UIDL_MAX + 1);
		return;
	}
	for (int k = 0; k < DIGEST_BYTES; k++) {
		buf[2 * k] = hex[m->digest[k] >> 4];
		buf[2 * k + 1] = hex[m->digest[k] & 15];
	}
	buf[2 * DIGEST_BYTES] = '\0';
	if (m->occurrence > 1)
		sprintf(buf + 2 * DIGEST_BYTES, "-%u", m->occurrence);
}

/* After an UPDATE that removed the deleted messages from [0, scanned): the
 * index of the new file is the old one without them, each kept message
 * moved down by the bytes removed before it, duplicates numbered again.
 * It is stored, but for the last kept message, as a cache of a mailbox
 * that grew: the next session checks it by content (cache.c) and scans
 * from its last message on, with any mail delivered since, instead of
 * scanning the whole mailbox again.  Called under the lock; mb's index is
 * used up. */
static void cache_after_update(struct mailbox *mb)
{
	size_t k = 0;
	off_t gone = 0;
	bool twins = false;
	for (size_t i = 0; i < mb->count; i++) {
		struct message m = mb->msg[i];
		off_t next = i + 1 < mb->count ? mb->msg[i + 1].start :
		    mb->scanned;
		twins |= m.occurrence > 1;
		if (m.deleted) {
			gone += next - m.start;
			continue;
		}
		m.start -= gone;
		m.data -= gone;
		m.end -= gone;
		mb->msg[k++] = m;
	}
	if (k < 2 || fstat(mb->fd, &mb->st) < 0)
		return;
	mb->count = k - 1;
	mb->scanned = mb->msg[k - 1].start;
	mb->st.st_size = mb->scanned;
	if (twins && !number_duplicates(mb, 0))
		return;
	cache_store(mb, state_dir());
}

/* RFC 1939 section 6: remove the deleted messages; keep every other byte,
 * mail appended since the scan included.  Lock, verify, commit, unlock. */
enum mb_status mailbox_update(struct mailbox *mb)
{
	size_t first = 0;
	while (first < mb->count && !mb->msg[first].deleted)
		first++;
	if (first == mb->count)
		return MB_OK;
	struct lock lk;
	if (!lock_acquire(&lk, mb->fd, mb->path, true))
		return errno == EAGAIN ? MB_LOCKED : MB_SYSERR;
	enum mb_status st = MB_CHANGED;
	struct stat now;
	if (file_changed(mb, &now) && !messages_intact(mb, 0, mb->count))
		goto out;
	if (fstat(mb->fd, &now) < 0 || now.st_size < mb->scanned) {
		st = MB_SYSERR;
		goto out;
	}
	/* The deleted ranges: each message with its separator line;
	 * everything else, mail appended since the scan included, is kept. */
	struct range *del = malloc((mb->count - first) * sizeof(*del));
	st = MB_SYSERR;
	if (!del)
		goto out;
	size_t n = 0;
	for (size_t i = first; i < mb->count; i++) {
		off_t from = mb->msg[i].start;
		off_t to = i + 1 < mb->count ? mb->msg[i + 1].start : mb->scanned;
		if (!mb->msg[i].deleted)
			continue;
		if (n > 0 && del[n - 1].from + del[n - 1].len == from)
			del[n - 1].len += to - from;
		else
			del[n++] = (struct range){ from, to - from };
	}
	switch (update_commit(mb->fd, &now, &lk, now.st_size, del, n)) {
	case UPD_OK:
		st = MB_OK;
		if (mb->cache != CACHE_OFF)
			cache_after_update(mb);
		break;
	case UPD_NOTHING:
		st = MB_SYSERR;
		break;
	case UPD_UNSURE:
		st = MB_UNSURE;
		break;
	case UPD_PENDING:
		st = MB_PENDING;
		break;
	}
	free(del);
out:
	lock_release(&lk);
	return st;
}

void mailbox_close(struct mailbox *mb)
{
	/* The block read ahead belongs to this file: the next one opened may
	 * get the same descriptor and offsets. */
	ahead.len = 0;
	if (mb->fd >= 0)
		close(mb->fd);
	if (mb->map)
		cache_unmap(mb);
	else
		free(mb->msg);
	free(mb->alt);
	mb->fd = -1;
	mb->msg = NULL;
	mb->alt = NULL;
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
	case MB_INUSE: return "in use by another POP3 session";
	case MB_LOCKED: return "locked by another program";
	case MB_PENDING: return "an interrupted UPDATE is not finished yet";
	case MB_UNSURE: return "UPDATE done, but fsync failed";
	}
	return "?";
}
