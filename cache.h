/*
 * cache.h: the per-user index cache.  The index of an mbox (offsets, sizes,
 * digests, occurrence numbers) is kept in DIR/mbox-index, so that a session
 * on an unchanged mailbox, or on one that only grew by new mail, does not
 * read the whole mailbox again.  Called under the mailbox's read lock.
 * Runs in: the user's session.
 *
 *   cache_load(ix, fd, st, dir)  fills in ix's msg, count, alloc and
 *                          scanned from the cache when it describes the
 *                          open mailbox fd (as fstat gave st):
 *                          CACHE_HIT   the whole file is indexed;
 *                          CACHE_GREW  the file only grew: [0, ix->scanned) is
 *                                      indexed, a message start, and the
 *                                      rest must be scanned;
 *                          CACHE_MISS  nothing loaded (no cache, another
 *                                      file, the file changed, a damaged or
 *                                      foreign cache: the reason is logged
 *                                      at debug level).
 *                          The records are read into malloc()ed memory
 *                          (ix->msg) and checked there, never used from
 *                          the file;
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

#include "index.h"

#include <sys/stat.h>

enum cache_result { CACHE_OFF, CACHE_MISS, CACHE_HIT, CACHE_GREW };

enum cache_result cache_load(struct index *ix, int fd, const struct stat *st,
    const char *dir);
void cache_store(struct index_walk *w, int fd, const struct stat *st,
    const char *dir);
const char *cache_result_name(enum cache_result r);

#endif
