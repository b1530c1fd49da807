/*
 * scan.h: reading the mbox format, for mailbox.c.  Runs as the user.
 *
 *   reader_init(r, fd, buf, cap, from, limit)  a sequential reader over
 *                          [from, limit) of the file, in blocks of cap;
 *                          r->end (= limit) may be set lower: bytes from
 *                          r->end on may be read ahead but are never
 *                          handed out
 *   reader_fill(r, want)   makes `want` bytes readable at r->pos (fewer at
 *                          r->end, the limit or EOF; an error ends the data
 *                          and is kept in r->err); returns how many are:
 *                          the only bytes a caller may look at
 *   reader_offset(r)       the file offset of r->pos
 *   consume_line(r, eol, ctx, u)  reads one line, up to r->end at most
 *                          (feeding the digest, a
 *                          CRLF end as LF, and the UIDL state when not
 *                          NULL); its length, and in *eol that of its line
 *                          end (2 CRLF, 1 LF, 0 none; sent_octets(), mbox.h)
 *   classify(p, n)         what a header line is: kept, kept but left out
 *                          of the UIDL digest, or hidden from clients
 *   (is_blank, is_from and the other rules of the format: mbox.h)
 *   scan_range(mb, from, to, max)  appends the messages of [from, to) of
 *                          mb's file to its index (at most max in all);
 *                          [from, to) starts with a message or is empty
 *   scan_number(mb, fresh) numbers identical messages 1, 2, 3... (UIDL
 *                          "-N"); those before `fresh` are numbered already
 */
#ifndef POP3D_SCAN_H
#define POP3D_SCAN_H

#include "digest.h"
#include "mailbox.h"
#include "mbox.h"
#include "uidl.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

/* A sequential reader over [offset, limit) of the file, in large blocks. */
struct reader {
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

enum header_class { HDR_KEEP, HDR_NODIGEST, HDR_HIDE };

void reader_init(struct reader *r, int fd, char *buf, size_t cap,
    off_t from, off_t limit);
size_t reader_fill(struct reader *r, size_t want);
off_t reader_offset(const struct reader *r);
off_t consume_line(struct reader *r, size_t *eol, digest_ctx *ctx,
    struct uidl_state *u);
enum header_class classify(const char *p, size_t n);
enum mb_status scan_range(struct mailbox *mb, off_t from, off_t to,
    size_t max);
bool scan_number(struct mailbox *mb, size_t fresh);

#endif
