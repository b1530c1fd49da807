/*
 * mailbox.h: one mbox, scanned into an index at login, served message by
 * message, and rewritten at UPDATE.  Runs as the user, never as root.
 *
 *   mailbox_limits(msgs, bytes) the most messages and bytes a mailbox may
 *                              hold to be served (MB_TOOBIG beyond)
 *   mailbox_open(mb, path)     open, take the session lock (state.h), take
 *                              the delivery lock, finish an interrupted
 *                              UPDATE (update.h), scan, unlock; a missing
 *                              file is an empty mailbox
 *                              and the index from the cache (cache.h) in
 *                              the state directory where it still holds
 *   mailbox_at_boundary(mb, o) does a message (a "From " line) start at o?
 *   mailbox_send(mb, i, lines) queue message i (0-based) on the connection:
 *                              CRLF lines, dot-stuffed, hidden headers left
 *                              out, ".\r\n" at the end; lines < 0 sends it
 *                              all, else the headers, the blank line and that
 *                              many body lines (TOP); the "+OK" line says
 *                              the message's octets for RETR, none for TOP
 *   mailbox_uidl(mb, i, buf)   the message's unique id (DESIGN, UIDL)
 *   mailbox_update(mb)         under the delivery lock: verify that the
 *                              indexed part is as scanned, then remove the
 *                              deleted messages crash-safely (update.h),
 *                              keeping the rest and whatever was appended
 *                              since the scan; then the index is used up
 *                              (it became the index cache of the new file)
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

/* --uidl: whose UIDLs to reuse when users migrate (see README). */
enum uidl_mode { UIDL_OWN, UIDL_XUIDL, UIDL_UW, UIDL_DOVECOT, UIDL_POPA3D };

/* No padding: the index cache (cache.c) is an array of these in a file,
 * read into memory as it is. */
struct message {
	off_t start;		/* the From_ line */
	off_t data;		/* the first header line */
	off_t end;		/* one past the last byte; the separator is not in */
	uint64_t octets;	/* what RETR sends, before dot-stuffing */
	uint8_t digest[DIGEST_BYTES];
	uint32_t occurrence;	/* 1, or n for the n-th identical message */
	uint32_t deleted;	/* 0 or 1 */
};

struct mailbox {
	const char *path;
	int fd;			/* -1: no file, an empty mailbox */
	struct stat st;		/* as scanned, or as last verified */
	off_t scanned;		/* bytes the index covers */
	size_t count;
	size_t alloc;		/* entries allocated in msg */
	struct message *msg;	/* malloc()ed */
	enum uidl_mode uidl;	/* which ids to reuse (--uidl) */
	char (*alt)[UIDL_MAX + 1];	/* per message, when uidl != UIDL_OWN:
				   the migrated id or "" */
	uint32_t uidvalidity;	/* from X-IMAPbase/X-IMAP (UIDL_UW) */
	int cache;		/* enum cache_result of the index cache */
};

enum mb_status {
	MB_OK,
	MB_NOTMBOX,	/* does not start with "From " */
	MB_UNSAFE,	/* not a regular file, linked, not the user's, or the
			   way to it is not usable: mailbox_strerror says
			   which, and what to change */
	MB_TOOBIG,	/* beyond the limits (mailbox_limits) */
	MB_CHANGED,	/* someone else changed the indexed part */
	MB_CUT,		/* mailbox_send: it changed while the message was
			   sent; the reply is cut short */
	MB_SYSERR,	/* an I/O error; errno says which */
	MB_INUSE,	/* another POP3 session has it (RFC 2449 [IN-USE]) */
	MB_LOCKED,	/* the delivery lock could not be had in time */
	MB_UNSURE,	/* UPDATE done, but fsync failed: deleted mail may return */
	MB_PENDING,	/* an UPDATE could not be finished; the next start will */
};

void mailbox_limits(size_t max_messages, long long max_bytes);
enum mb_status mailbox_open(struct mailbox *mb, const char *path,
    enum uidl_mode uidl);
bool mailbox_at_boundary(const struct mailbox *mb, off_t start);
enum mb_status mailbox_send(struct mailbox *mb, size_t i, long lines);
void mailbox_uidl(const struct mailbox *mb, size_t i, char *buf);
enum mb_status mailbox_update(struct mailbox *mb);
void mailbox_close(struct mailbox *mb);
const char *mailbox_strerror(enum mb_status s);

#endif
