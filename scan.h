/*
 * scan.h: reading the mbox format (the rules: mbox.h): the scanner that
 * builds the index (index.h), and the reader and header walker that
 * mailbox.c also sends with, so that what is counted is what is sent.
 * Runs in: the user's session.
 *
 *   scan_init(r, fd, buf, cap, from, limit)  a sequential reader over
 *                          [from, limit) of the file, in blocks of cap;
 *                          r->end (= limit) may be set lower: bytes from
 *                          r->end on may be read ahead but are never
 *                          handed out
 *   scan_fill(r, want)     makes `want` bytes readable at r->pos (fewer at
 *                          r->end, the limit or EOF; an error ends the data
 *                          and is kept in r->err); returns how many are:
 *                          the only bytes a caller may look at
 *   scan_offset(r)         the file offset of r->pos
 *   scan_line(r, eol, ctx, u)  reads one line, up to r->end at most
 *                          (feeding the digest, a CRLF end as LF, and the
 *                          UIDL state when not NULL); its length, and in
 *                          *eol that of its line end (2 CRLF, 1 LF, 0 none;
 *                          sent_octets(), mbox.h)
 *   scan_header(last, p, n)  what the header line at p (n bytes of it in
 *                          memory) is: kept, kept but left out of the UIDL
 *                          digest, hidden from clients, or the blank line
 *                          that ends the headers; *last is the class of the
 *                          line before (a continuation line's) and becomes
 *                          this one's
 *   scan_range(ix, fd, from, to, max)  appends the messages of [from, to)
 *                          of the file to the index (at most max in all);
 *                          [from, to) starts with a message or is empty;
 *                          SCAN_OK, SCAN_NOTMBOX (it does not), SCAN_TOOBIG
 *                          (more than max) or SCAN_SYSERR (errno says)
 *   scan_at_boundary(fd, o)  does a message (a "From " line) start at o?
 */
#ifndef POP3D_SCAN_H
#define POP3D_SCAN_H

#include "digest.h"
#include "index.h"
#include "mbox.h"
#include "uidl.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A sequential reader over [offset, limit) of the file, in large blocks. */
struct scan_reader {
	int fd;
	char *buf;
	size_t cap;
	off_t base;		/* file offset of buf[0] */
	size_t pos, len;	/* unread bytes are buf[pos..len) */
	off_t limit;		/* no read at or past it */
	off_t end;		/* nothing at or past it is handed out */
	bool eof;
	int err;		/* errno of a failed read */
};

enum header_class { HDR_KEEP, HDR_NODIGEST, HDR_HIDE, HDR_END };
enum scan_result { SCAN_OK, SCAN_NOTMBOX, SCAN_TOOBIG, SCAN_SYSERR };

void scan_init(struct scan_reader *r, int fd, char *buf, size_t cap,
    off_t from, off_t limit);
size_t scan_fill(struct scan_reader *r, size_t want);
off_t scan_offset(const struct scan_reader *r);
off_t scan_line(struct scan_reader *r, size_t *eol, digest_ctx *ctx,
    struct uidl_state *u);
enum header_class scan_header(enum header_class *last, const char *p,
    size_t n);
enum scan_result scan_range(struct index *ix, int fd, off_t from, off_t to,
    size_t max);
bool scan_at_boundary(int fd, off_t start);

#endif
