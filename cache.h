/*
 * cache.h: the per-user index cache.  The index of an mbox (offsets, sizes,
 * digests, occurrence numbers) is kept in DIR/mbox-index, so that a session
 * on an unchanged mailbox, or on one that only grew by new mail, does not
 * read the whole mailbox again.  Called under the mailbox's read lock.
 * Runs in: the user's session.
 *
 *   cache_load(ix, fd, st, dir, rest)  fills in ix's count and scanned
 *                          (and without rest, msg and alloc) from the cache
 *                          when it describes the open mailbox fd (as fstat
 *                          gave st):
 *                          CACHE_HIT   the whole file is indexed;
 *                          CACHE_GREW  the file only grew: [0, ix->scanned) is
 *                                      indexed, a message start, and the
 *                                      rest must be scanned;
 *                          CACHE_MISS  nothing loaded (no cache, another
 *                                      file, the file changed, a damaged or
 *                                      foreign cache: the reason is logged
 *                                      at debug level).
 *                          Without rest the records are read into
 *                          malloc()ed memory (ix->msg) and checked there,
 *                          never used from the file.  With rest (a hit, or
 *                          a mailbox that grew, of at least one message)
 *                          only the header and sampled records are read:
 *                          ix->msg stays NULL, the header's octets
 *                          (rest->h.octets, less rest->last's when it grew)
 *                          answer login and STAT, and the cache stays open
 *                          in rest;
 *   cache_load_rest(rest, room)  reads and checks the records of such a
 *                          load (the header must be the one checked at
 *                          login, and the last record too when it grew)
 *                          into memory for max(room, rest->h.count)
 *                          records; NULL (the reason logged at debug level)
 *                          when they fail; rest is closed either way;
 *   cache_rest_drop(rest)  closes it unread;
 *   cache_store(w, fd, st, dir)  writes the records of the walk (index.h)
 *                          as the index of the mailbox fd, of st_size
 *                          bytes, atomically (temp file, rename); a failure
 *                          is logged and otherwise harmless.
 *
 * The cache is untrusted input (its owner may write it at any time) and a
 * hint, never trusted for content: it must match the file's identity
 * (device, inode, size, mtime and ctime to the nanosecond), its last bytes,
 * and sampled message boundaries, and every record must be consistent on
 * its own and with the one before it.  RETR/TOP check the place of every
 * message they serve before its first byte, and UPDATE the boundaries of
 * every range it deletes.  A wrong cache costs a rescan, or a -ERR
 * [SYS/TEMP] for a message it misplaced; it never makes pop3d send a byte
 * from outside the message's place in the mailbox.
 */
#ifndef POP3D_CACHE_H
#define POP3D_CACHE_H

#include "digest.h"
#include "index.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

enum cache_result { CACHE_OFF, CACHE_MISS, CACHE_HIT, CACHE_GREW };

/* The file: this header, then one struct message per message (index.h:
 * no padding, `deleted` 0), then the SHA-256 of the records and the
 * header.  Fields are in the writer's byte order (`order` says which); a
 * cache from another architecture, version or record layout is a miss. */
struct cache_header {
	char magic[8];
	uint32_t version, order, header_size, record_size;
	uint64_t dev, ino, size;	/* the mailbox as scanned */
	int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	uint64_t scanned, count;
	uint8_t tail[SHA256_BYTES];	/* of the CACHE_TAIL bytes before scanned */
	uint64_t octets;	/* of all the records: STAT before they are read */
	uint8_t sum[SHA256_BYTES];	/* of the header up to here */
};

/* The records of a hit or a grown mailbox, not read yet (cache_load with
 * rest). */
struct cache_rest {
	int fd;			/* the cache file; -1: nothing pending */
	struct cache_header h;	/* as checked at login */
	bool grew;		/* CACHE_GREW: the last record is scanned again */
	struct message last;	/* then, that record, as checked at login */
};

enum cache_result cache_load(struct index *ix, int fd, const struct stat *st,
    const char *dir, struct cache_rest *rest);
struct message *cache_load_rest(struct cache_rest *rest, size_t room);
void cache_rest_drop(struct cache_rest *rest);
void cache_store(struct index_walk *w, int fd, const struct stat *st,
    const char *dir);
const char *cache_result_name(enum cache_result r);

#endif
