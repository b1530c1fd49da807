/*
 * mailbox.h: one mbox, indexed at login (index.h), served message by
 * message, and rewritten at UPDATE.  Runs in: the user's session.
 *
 *   mailbox_limits(msgs, bytes) the most messages and bytes a mailbox may
 *                              hold to be served (MB_TOOBIG beyond)
 *   mailbox_open(mb, path)     open, take the session lock (state.h), take
 *                              the delivery lock, finish an interrupted
 *                              UPDATE (update.h), scan, unlock; a missing
 *                              file is an empty mailbox
 *                              and the index from the cache (cache.h) in
 *                              the state directory where it still holds
 *   mailbox_totals(mb, n, octets)  the messages not deleted, and their
 *                              octets (STAT)
 *   mailbox_index(mb)          the records of every message in mb->ix.msg:
 *                              a cache hit reads them when a command first
 *                              needs them (cache.h); when they fail their
 *                              checks, the mailbox is scanned again as it
 *                              was at login, and MB_DAMAGED if that finds
 *                              other messages than the login counted
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
 *                              since the scan; the index is left as it was
 *                              (and stored as the index cache of the new
 *                              file)
 *   mailbox_close(mb)
 * Every function returns MB_OK or the reason it did nothing.
 */
#ifndef POP3D_MAILBOX_H
#define POP3D_MAILBOX_H

#include "cache.h"
#include "index.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct mailbox {
	const char *path;
	int fd;			/* -1: no file, an empty mailbox */
	struct stat st;		/* as scanned, or as last verified */
	struct index ix;	/* msg NULL until mailbox_index, when the
				   cache was used (count and scanned set) */
	int cache;		/* enum cache_result of the index cache */
	/* Until mailbox_index: the cache's records, not read yet; for a
	 * mailbox that grew, the messages scanned at login, to follow them;
	 * and the octets of all messages. */
	struct cache_rest rest;
	struct index tail;
	unsigned long long octets;
	bool damaged;		/* the records failed, and so did a scan */
	/* The block mailbox_send read last, kept for the next message: a
	 * client that retrieves every message gets them through one pread
	 * per SEND_BUFFER, not one or more per message.  It is a snapshot
	 * like any read; every message sent from it is checked against the
	 * index first. */
	struct send_ahead {
		char *buf;	/* SEND_BUFFER bytes, malloc()ed when first used */
		off_t base;
		size_t len;
		bool as_scanned;	/* an fstat after the last read found
					   the file as scanned (out of the
					   clock tick of its last change): buf
					   holds the bytes the index was made
					   from */
	} ahead;
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
	MB_DAMAGED,	/* mailbox_index: the index cache failed its checks,
			   and the mailbox no longer holds what login said */
};

void mailbox_limits(size_t max_messages, long long max_bytes);
enum mb_status mailbox_open(struct mailbox *mb, const char *path,
    enum uidl_mode uidl);
void mailbox_totals(const struct mailbox *mb, size_t *n,
    unsigned long long *octets);
enum mb_status mailbox_index(struct mailbox *mb);
enum mb_status mailbox_send(struct mailbox *mb, size_t i, long lines);
void mailbox_uidl(const struct mailbox *mb, size_t i, char *buf);
enum mb_status mailbox_update(struct mailbox *mb);
void mailbox_close(struct mailbox *mb);
const char *mailbox_strerror(enum mb_status s);

#endif
