/*
 * journal.h: an UPDATE's plan and its journal file in the state directory
 * (update.c runs it; DESIGN, "The UPDATE", has the design).
 * A plan deletes ranges of a mailbox of size S; its backup lies in the
 * mailbox at [S, S+BL).  The journal holds the plan, the phase and the
 * backup's digest, checksummed; it is small (no mail in it).
 *
 *   journal_plan_check(j)  the deletions are sane; derives P and L
 *   journal_kept(j, i)  the kept range after deletion i (maybe empty)
 *   journal_backup_part(j, r)  how much of kept range r is backed up
 *   journal_write(j)    the plan as "update-INO.journal": written to
 *                       ".new", fsync'ed, renamed over the old one, the
 *                       directory fsync'ed; false: the old one stays
 *   journal_phase(j, ph)  the next phase (and j->bsum), durable
 *   journal_read(j, dev, ino)  1 read and checked; 0 none; -1 unusable
 *   journal_remove(j)   unlink it, fsync the directory
 *   journal_free(j)     close and free (the file stays)
 *   journal_put64(p, v)  v as 8 bytes, little-endian (journal, digests)
 */
#ifndef POP3D_JOURNAL_H
#define POP3D_JOURNAL_H

#include "digest.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define DLEN		SHA256_BYTES
#define PH_PREPARE	'P'	/* the backup is being appended */
#define PH_COPY		'C'	/* the kept ranges are being copied */
#define PH_TRUNCATE	'T'	/* the copy is durable: truncate */

/* A byte range of the mailbox. */
struct range {
	off_t from, len;
};

struct plan {
	int fd;			/* the journal */
	uint64_t dev, ino;
	off_t s;		/* S: the file's size when planned */
	off_t e;		/* kept bytes below E are backed up */
	off_t pad;		/* '\n' bytes before the backup */
	off_t blen;		/* BL: the backup's length, padding included */
	uint64_t redo;		/* made by a recovery: never rolled back */
	size_t ndel;
	struct range *del;	/* ascending, disjoint, in [0, S) */
	uint8_t tail[DLEN];	/* fingerprint of [P+L, S) */
	uint8_t bsum[DLEN];	/* the backup's sampled digest (from COPY on) */
	char phase;
	off_t p, l;		/* derived */
};

bool journal_plan_check(struct plan *j);
struct range journal_kept(const struct plan *j, size_t i);
off_t journal_backup_part(const struct plan *j, struct range r);
bool journal_write(struct plan *j);
bool journal_phase(struct plan *j, char phase);
int journal_read(struct plan *j, uint64_t dev, uint64_t ino);
bool journal_remove(struct plan *j);
void journal_free(struct plan *j);
void journal_put64(uint8_t *p, uint64_t v);

#endif
