/*
 * scan.c: reading the mbox format; see scan.h.
 * Runs in: the user's session.
 *
 * The mbox convention (mboxo/mboxrd as Debian's MDAs write it): a message
 * starts at a "From " line at the start of the file or after a blank line;
 * the blank line before the next "From " line, and a blank line ending the
 * file, belong to the separator, not to the message.  ">From " lines are
 * served as stored.  Sizes are exact (RFC 1939 section 11): every line is
 * sent with one CRLF, whether it is stored with LF or with CRLF (mbox.h), a
 * last line without LF gets a CRLF, dot-stuffing is not counted, and the
 * bookkeeping headers that mail programs keep in mboxes (Status,
 * X-Status, X-Keywords, X-UID, X-IMAP, X-IMAPbase, X-Dovecot-*) are hidden
 * from clients and from the counts, and so is UW IMAP's "FOLDER INTERNAL
 * DATA" pseudo-message.  A Content-Length header is honoured only where it
 * is consistent (see length_end()).
 */
/* memrchr: in glibc, musl and the BSDs. */
#define _GNU_SOURCE
#include "scan.h"
#include "params.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void scan_init(struct scan_reader *r, int fd, char *buf, size_t cap,
    off_t from, off_t limit)
{
	*r = (struct scan_reader){ .fd = fd, .buf = buf, .cap = cap, .base = from,
	    .limit = limit, .end = limit };
}

/* The bytes at pos that a caller may look at: those buffered, but none at
 * or past r->end (a reader already there has none). */
static size_t reader_avail(const struct scan_reader *r)
{
	off_t left = r->end - scan_offset(r);
	size_t n = r->len - r->pos;
	return left <= 0 ? 0 : (uint64_t)left < n ? (size_t)left : n;
}

/* Makes at least `want` bytes readable at pos unless r->end, the limit or
 * EOF comes first; returns how many are readable.  EINTR is retried; any
 * other error is kept in r->err and ends the data. */
size_t scan_fill(struct scan_reader *r, size_t want)
{
	if (r->len - r->pos >= want || r->eof)
		return reader_avail(r);
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
	return reader_avail(r);
}

off_t scan_offset(const struct scan_reader *r)
{
	return r->base + (off_t)r->pos;
}


/* Headers that mail programs, not senders, write into an mbox.  They are
 * hidden from clients; they and Content-Length/Lines (which MUAs rewrite)
 * are left out of the UIDL digest so that ids survive such rewrites. */
static enum header_class header_class(const char *p, size_t n)
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

enum header_class scan_header(enum header_class *last, const char *p,
    size_t n)
{
	if (is_blank(p, n))
		return HDR_END;
	if (p[0] != ' ' && p[0] != '\t')	/* else a continuation line */
		*last = header_class(p, n);
	return *last;
}

/* Consumes one line from the reader; returns its length (line end
 * included) and sets *eol to the length of its line end: 2 for CRLF, 1 for
 * LF, 0 for none (mbox.h).  Feeds it to ctx and u when they are not NULL:
 * u as stored (other servers' ids), ctx with a CRLF end fed as LF, so that
 * the UIDL does not depend on how the file stores line ends. */
off_t scan_line(struct scan_reader *r, size_t *eol, digest_ctx *ctx,
    struct uidl_state *u)
{
	off_t n = 0;
	size_t avail;
	bool cr = false;	/* the last piece ended with a CR (not fed yet) */
	*eol = 0;
	while ((avail = scan_fill(r, 1)) > 0) {
		char *p = r->buf + r->pos;
		char *e = memchr(p, '\n', avail);
		size_t k = e ? (size_t)(e - p) + 1 : avail;
		size_t data = e ? k - 1 : k;	/* before the LF */
		bool last_cr = data > 0 ? p[data - 1] == '\r' : cr;
		if (ctx) {
			if (cr && data > 0)	/* a CR inside the line: data */
				digest_add(ctx, "\r", 1);
			if (data > 0 && p[data - 1] == '\r') {
				digest_add(ctx, p, data - 1);
				if (e)
					digest_add(ctx, "\n", 1);
			} else {
				digest_add(ctx, p, k);
			}
		}
		if (u)
			uidl_feed(u, p, k);
		r->pos += k;
		n += (off_t)k;
		cr = last_cr;
		if (e) {
			*eol = cr ? 2 : 1;
			return n;
		}
	}
	if (ctx && cr)		/* the last line ends in a CR, not a CRLF */
		digest_add(ctx, "\r", 1);
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
static void finish(struct index *ix, struct scan *s, off_t end,
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
	size_t i = (size_t)(m - ix->msg);
	if (i == 0 && s->u.uidvalidity)
		ix->uidvalidity = s->u.uidvalidity;
	if (ix->alt)
		uidl_end(&s->u, ix->uidl, ix->uidvalidity, ix->alt[i]);
	/* Like Dovecot, hide UW's pseudo-message (when it comes first). */
	if (i == 0 && m->start == 0 && s->x_imap && s->uw_subject)
		ix->count = 0;
	s->m = NULL;
}

/* Content-Length is honoured only where it is consistent: the body it
 * gives ends at the end of the data, or just before a blank line ("\n" or
 * "\r\n") that is followed by the end or by a "From " line. */
static off_t length_end(int fd, off_t body, long long length, off_t size)
{
	char b[7];
	if (length < 0 || length > size - body)
		return -1;
	off_t at = body + (off_t)length;
	if (at == size)
		return at;
	size_t want = size - at >= 7 ? 7 : (size_t)(size - at);
	if (pread(fd, b, want, at) != (ssize_t)want || !is_blank(b, want))
		return -1;
	size_t k = b[0] == '\r' ? 2 : 1;
	return want == k || is_from(b + k, want - k) ? at : -1;
}

/* A header line that the scan must look at closely (the first bytes of the
 * line are in memory). */
static void header_marks(const struct index *ix, struct scan *s, const char *p,
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
	if (ix->count == 1 && s->m->start == 0) {
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

/* The sum of the lanes of a counter whose byte lanes hold -127..127. */
static inline size_t lanes(const vec *acc)
{
	size_t c = 0;
	for (int k = 0; k < VW; k++)
		c += (size_t)(signed char)(*acc)[k];	/* modulo 2^N */
	return c;
}

/* Is p[k] a CR before an LF (that is, part of a CRLF line end)? */
#define CRLF_AT(p, k)	((p)[k] == '\r' && (p)[(k) + 1] == '\n')

/* The first "\nFrom " in [p, e), or NULL; adds to *bare the LFs before it
 * (or in all of [p, e)) and subtracts the CRs before it that an LF follows
 * (the LF may be the one returned: the caller counts that).  From a line
 * start, that is the count of the LFs stored without a CR, the line ends
 * that are sent one octet longer than they are stored; *bare counts modulo
 * 2^N and may be one short until the caller counts the returned LF.
 * glibc's memmem alone takes 3x longer: here LFs, CRLFs and "\nF" pairs are
 * found VW bytes at a time and only the pairs are compared, in the same
 * pass that counts. */
WIDE_CLONES
static const char *find_from_line(const char *p, const char *e, size_t *bare)
{
	const vec nl = (vec){ 0 } + '\n', f = (vec){ 0 } + 'F',
	    cr = (vec){ 0 } + '\r';
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
					*bare += lanes(&acc);
					for (int j = 0; j < k; j++)
						*bare += (size_t)(p[j] == '\n') -
						    (size_t)CRLF_AT(p, j);
					return p + k;
				}
		}
		/* A match is all ones, -1: +1 for an LF, -1 for a CRLF's CR. */
		acc += (vec)((vec)(a == cr) & (vec)(b == nl)) - lf;
		if (++blocks == 127) {	/* a lane stays within -127..127 */
			*bare += lanes(&acc);
			acc = (vec){ 0 };
			blocks = 0;
		}
	}
	*bare += lanes(&acc);
	for (; e - p >= 6; p++) {
		if (memcmp(p, "\nFrom ", 6) == 0)
			return p;
		*bare += (size_t)(*p == '\n') - (size_t)CRLF_AT(p, 0);
	}
	for (; p < e; p++)
		*bare += (size_t)(*p == '\n') -
		    (size_t)(e - p >= 2 && CRLF_AT(p, 0));
	return NULL;
}

/* Body lines in bulk, from a line start: everything up to the next "From "
 * line that follows a blank line, else up to the last LF in the buffer.  The
 * body needs only its octets (the bytes, and one more for each line end
 * stored as a bare LF) and whether its last line was blank, so no line is
 * looked at on its own. */
static void scan_body(struct scan *s, struct scan_reader *r, size_t avail)
{
	const char *p = r->buf + r->pos, *e = p + avail;
	const char *lf = NULL, *x = p;
	size_t bare = 0;	/* in [p, x), see find_from_line() */
	off_t base = scan_offset(r);
	/* A consistent Content-Length says where the next message starts. */
	while ((x = find_from_line(x, e, &bare))) {
		if (base + (x + 1 - p) >= s->length_end && blank_length(p, x)) {
			lf = x;
			break;
		}
		bare++;		/* the LF at x (its CR was subtracted) */
		x++;
	}
	if (lf)
		bare++;		/* its own */
	else			/* bare counts all of [p, e) */
		lf = memrchr(p, '\n', (size_t)(e - p));
	if (!lf) {
		/* A line longer than what is buffered, or a last line without
		 * LF: neither is blank. */
		size_t eol;
		off_t n = scan_line(r, &eol, NULL, NULL);
		s->m->octets += sent_octets((uint64_t)n, eol);
		s->last_blank = false;
		return;
	}
	size_t n = (size_t)(lf + 1 - p), k = blank_length(p, lf);
	s->m->octets += n + bare;
	s->last_blank = k > 0;
	if (k) {
		s->blank_off = scan_offset(r) + (off_t)(n - k);
		s->blank_octets = sent_octets(k, k);
	}
	r->pos += n;
}

/* One sequential pass over [from, to), which must start with a message
 * (or be empty): its messages are appended to the index. */
enum scan_result scan_range(struct index *ix, int fd, off_t from, off_t to,
    size_t max)
{
	char *buf = malloc(SCAN_BUFFER);
	if (!buf)
		return SCAN_SYSERR;
	struct scan_reader r;
	scan_init(&r, fd, buf, SCAN_BUFFER, from, to);
	struct scan s = { .last_blank = true, .length_end = -1 };
	enum scan_result st = SCAN_OK;
	bool first = true;

	for (;;) {
		size_t avail = scan_fill(&r, 128);
		if (avail == 0)
			break;
		const char *p = r.buf + r.pos;
		off_t off = scan_offset(&r);
		size_t eol;
		if (s.last_blank && is_from(p, avail) && off >= s.length_end) {
			finish(ix, &s, off, !first);
			if (!(s.m = index_add(ix, max))) {
				st = errno == E2BIG ? SCAN_TOOBIG : SCAN_SYSERR;
				goto out;
			}
			s.m->start = off;
			scan_line(&r, &eol, NULL, NULL);
			s.m->data = scan_offset(&r);
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
			st = SCAN_NOTMBOX;
			goto out;
		}
		if (!s.in_headers) {
			scan_body(&s, &r, avail);
			continue;
		}
		/* Headers, line by line. */
		enum header_class c = scan_header(&s.hclass, p, avail);
		bool blank = c == HDR_END, md5 = false;
		if (blank) {
			s.in_headers = false;
			s.header_octets = s.m->octets;
			s.length_end = length_end(fd, off + (p[0] == '\r' ? 2 : 1),
			    s.content_length, to);
		} else {
			header_marks(ix, &s, p, avail);
			md5 = uidl_header(&s.u, ix->uidl, p, avail);
		}
		off_t n = scan_line(&r, &eol, c == HDR_KEEP ? &s.ctx : NULL,
		    md5 ? &s.u : NULL);
		uint64_t octets = sent_octets((uint64_t)n, eol);
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
		st = SCAN_SYSERR;
		goto out;
	}
	finish(ix, &s, scan_offset(&r), s.last_blank && s.m &&
	    s.blank_off >= s.m->data && ix->count > 0);
	ix->scanned = scan_offset(&r);
out:
	free(buf);
	return st;
}

/* Is there still a From_ line at `start`, after a newline? */
bool scan_at_boundary(int fd, off_t start)
{
	char b[6];
	off_t at = start > 0 ? start - 1 : 0;
	size_t want = start > 0 ? 6 : 5;
	if (pread(fd, b, want, at) != (ssize_t)want)
		return false;
	return start == 0 ? memcmp(b, "From ", 5) == 0 :
	    b[0] == '\n' && memcmp(b + 1, "From ", 5) == 0;
}
