/*
 * mailbox.h: one mbox, scanned into an index at login, served message by
 * message, and rewritten at UPDATE.  Runs as the user, never as root.
 *
 *   mailbox_limits(msgs, bytes) the most messages and bytes a mailbox may
 *                              hold to be served (MB_TOOBIG beyond)
 *   mailbox_open(mb, path)     open, lock, scan, unlock; a missing file is an
 *                              empty mailbox
 *   mailbox_send(mb, i, lines) queue message i (0-based) on the connection:
 *                              CRLF lines, dot-stuffed, hidden headers left
 *                              out, ".\r\n" at the end; lines < 0 sends it
 *                              all, else the headers, the blank line and that
 *                              many body lines (TOP)
 *   mailbox_uidl(mb, i, buf)   the message's unique id (see README)
 *   mailbox_update(mb)         remove the deleted messages, keep the rest and
 *                              whatever was appended since the scan
 *   mailbox_close(mb)
 * Every function returns MB_OK or the reason it did nothing.
 */
#ifndef POP3D_MAILBOX_H
#define POP3D_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define DIGEST_BYTES	16
#define UIDL_MAX	70	/* RFC 1939 section 7 */

struct message {
	off_t start;		/* the From_ line */
	off_t data;		/* the first header line */
	off_t end;		/* one past the last byte; the separator is not in */
	uint64_t octets;	/* what RETR sends, before dot-stuffing */
	uint8_t digest[DIGEST_BYTES];
	uint32_t occurrence;	/* 1, or n for the n-th identical message */
	bool deleted;
};

struct mailbox {
	const char *path;
	int fd;			/* -1: no file, an empty mailbox */
	struct stat st;		/* as scanned */
	off_t scanned;		/* bytes the index covers */
	size_t count;
	struct message *msg;
};

enum mb_status {
	MB_OK,
	MB_NOTMBOX,	/* does not start with "From " */
	MB_UNSAFE,	/* not a regular file, linked, or not the user's */
	MB_TOOBIG,	/* beyond the limits (mailbox_limits) */
	MB_CHANGED,	/* someone else changed the indexed part */
	MB_SYSERR,	/* an I/O error; errno says which */
};

void mailbox_limits(size_t max_messages, long long max_bytes);
enum mb_status mailbox_open(struct mailbox *mb, const char *path);
enum mb_status mailbox_send(struct mailbox *mb, size_t i, long lines);
void mailbox_uidl(const struct mailbox *mb, size_t i, char *buf);
enum mb_status mailbox_update(struct mailbox *mb);
void mailbox_close(struct mailbox *mb);
const char *mailbox_strerror(enum mb_status s);

#endif
