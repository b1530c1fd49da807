/*
 * index.h: the message index of one mbox: where each message is, what it
 * sends, its digest and whether it is deleted.  Built by the scanner
 * (scan.h) or read from the index cache (cache.h), served by mailbox.c.
 * Runs in: the user's session.
 *
 *   index_add(ix, max)       a new zeroed record at the end; NULL when
 *                            there are max already (errno E2BIG) or no
 *                            memory (ENOMEM)
 *   index_records(n)         memory for n records, for ix->msg (huge pages
 *                            for a large index; free() frees it)
 *   index_number(ix, fresh)  numbers identical messages 1, 2, 3... (UIDL
 *                            "-N"); those before `fresh` are numbered
 *                            already; false when out of memory
 *   index_walk_begin(w, ix, update)  hands out ix's records (deleted 0) in
 *                            order; with update, those of the file the
 *                            UPDATE left (RFC 1939 section 6): the deleted
 *                            ones left out, the others moved down by the
 *                            bytes removed before them and numbered again,
 *                            and the last one left out too (the cache then
 *                            makes the next session scan it again, with
 *                            what came after: cache.h).  w->count records
 *                            covering w->scanned bytes; ix is not changed.
 *                            false when out of memory
 *   index_walk_next(w, out, n)  the next records, up to n; how many
 *   index_walk_end(w)
 *   index_free(ix)
 */
#ifndef POP3D_INDEX_H
#define POP3D_INDEX_H

#include "uidl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DIGEST_BYTES	16

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

struct index {
	off_t scanned;		/* bytes of the file the index covers */
	size_t count;
	size_t alloc;		/* records allocated in msg */
	struct message *msg;	/* index_records() or realloc()ed */
	enum uidl_mode uidl;	/* which ids to reuse (--uidl) */
	char (*alt)[UIDL_MAX + 1];	/* per message, when uidl != UIDL_OWN:
				   the migrated id or "" */
	uint32_t uidvalidity;	/* from X-IMAPbase/X-IMAP (UIDL_UW) */
};

struct index_walk {
	size_t count;		/* records it hands out */
	off_t scanned;		/* bytes they cover */
	const struct index *ix;
	bool update;
	size_t i;		/* the next record of ix */
	size_t left;		/* records still to hand out */
	off_t gone;		/* bytes removed before ix->msg[i] */
	uint32_t *twin, *seen;	/* deleted twins (update: index.c) */
	size_t mask;
};

struct message *index_add(struct index *ix, size_t max);
struct message *index_records(size_t n);
bool index_number(struct index *ix, size_t fresh);
bool index_walk_begin(struct index_walk *w, const struct index *ix,
    bool update);
size_t index_walk_next(struct index_walk *w, struct message *out, size_t n);
void index_walk_end(struct index_walk *w);
void index_free(struct index *ix);

#endif
