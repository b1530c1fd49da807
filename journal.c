/*
 * journal.c: an UPDATE's plan and its journal file; see journal.h.
 * Runs in: the user's session.
 */
#include "journal.h"
#include "fdio.h"
#include "log.h"
#include "netfs.h"
#include "params.h"
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC		"pop3d-journal-3\n"	/* 16 bytes */
/* The phase byte and the backup's digest, written by one pwrite and not
 * covered by the journal's checksum; then the fixed values. */
#define PHASE_AT	16
#define VALUES_AT	(PHASE_AT + 1 + DLEN + 7)
#define NVALUES		8
#define HEAD_BYTES	(VALUES_AT + 8 * NVALUES + DLEN)

void journal_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Named after the mailbox's inode only: a device number may change across
 * reboots or NFS mounts, and a journal that is not found is a mailbox
 * served half rewritten.  (The journal's own checks tell a wrong file.) */
static void journal_name(char *out, size_t size, uint64_t ino,
    const char *suffix)
{
	snprintf(out, size, "update-%llx.%s", (unsigned long long)ino, suffix);
}

/* Kept range i: between deletion i and the next one (or S); may be empty. */
struct range journal_kept(const struct plan *j, size_t i)
{
	off_t from = j->del[i].from + j->del[i].len;
	off_t to = i + 1 < j->ndel ? j->del[i + 1].from : j->s;
	return (struct range){ from, to - from };
}

/* The part of kept range r that is backed up: what lies below E. */
off_t journal_backup_part(const struct plan *j, struct range r)
{
	if (r.from >= j->e)
		return 0;
	return r.len < j->e - r.from ? r.len : j->e - r.from;
}

/* Checks the deletions and derives P and L. */
bool journal_plan_check(struct plan *j)
{
	if (j->ndel == 0 || j->ndel > MAX_MESSAGES_LIMIT + 1 || j->s <= 0)
		return false;
	off_t at = 0, gone = 0;
	for (size_t i = 0; i < j->ndel; i++) {
		const struct range *r = &j->del[i];
		if (r->from < at || r->len <= 0 || r->len > j->s - r->from)
			return false;
		at = r->from + r->len;
		gone += r->len;
	}
	j->p = j->del[0].from;
	j->l = j->s - j->p - gone;
	return true;
}

/* ---- the journal file: small (the plan); the backup is in the mailbox -- */

static void encode(const struct plan *j, uint8_t *h)
{
	memset(h, 0, HEAD_BYTES);
	memcpy(h, MAGIC, PHASE_AT);
	h[PHASE_AT] = (uint8_t)j->phase;
	memcpy(h + PHASE_AT + 1, j->bsum, DLEN);
	uint64_t v[NVALUES] = { j->dev, j->ino, (uint64_t)j->s,
	    (uint64_t)j->e, (uint64_t)j->pad, (uint64_t)j->blen, j->redo,
	    j->ndel };
	for (int i = 0; i < NVALUES; i++)
		journal_put64(h + VALUES_AT + 8 * i, v[i]);
	memcpy(h + VALUES_AT + 8 * NVALUES, j->tail, DLEN);
}

/* The checksum covers all but the phase record (phase byte + digest). */
static void checksum(const uint8_t *h, const uint8_t *dels, size_t n,
    uint8_t *out)
{
	digest_ctx ctx;
	digest_begin(&ctx);
	digest_add(&ctx, h, PHASE_AT);
	digest_add(&ctx, h + VALUES_AT, HEAD_BYTES - VALUES_AT);
	digest_add(&ctx, dels, n);
	digest_end(&ctx, out);
}

/* Writes the plan as the journal: a new file, fsync'ed, renamed over any
 * old journal, directory fsync'ed.  On failure nothing of it is left
 * behind (as far as unlink can see to it), and an old journal stays. */
bool journal_write(struct plan *j)
{
	char tmp[96], name[96];
	journal_name(tmp, sizeof(tmp), j->ino, "new");
	journal_name(name, sizeof(name), j->ino, "journal");
	int dfd = state_fd();
	if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
		return false;
	size_t n = 16 * j->ndel, size = HEAD_BYTES + n + DLEN;
	uint8_t *f = malloc(size);
	if (!f)
		return false;
	encode(j, f);
	for (size_t i = 0; i < j->ndel; i++) {
		uint8_t *d = f + HEAD_BYTES + 16 * i;
		journal_put64(d, (uint64_t)j->del[i].from);
		journal_put64(d + 8, (uint64_t)j->del[i].len);
	}
	checksum(f, f + HEAD_BYTES, n, f + HEAD_BYTES + n);
	int fd = state_create(tmp);
	bool ok = fd >= 0 && fdio_pwrite_all(fd, f, size, 0) &&
	    fsync(fd) == 0 && renameat(dfd, tmp, dfd, name) == 0;
	free(f);
	if (!ok) {
		int e = errno;
		if (fd >= 0) {
			close(fd);
			unlinkat(dfd, tmp, 0);
		}
		errno = e;
		return false;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	return state_sync();
}

/* The next phase, durable: one pwrite of the phase record, fsync. */
bool journal_phase(struct plan *j, char phase)
{
	uint8_t rec[1 + DLEN];
	rec[0] = (uint8_t)phase;
	memcpy(rec + 1, j->bsum, DLEN);
	if (!fdio_pwrite_all(j->fd, rec, sizeof(rec), PHASE_AT) ||
	    fsync(j->fd) < 0)
		return false;
	j->phase = phase;
	return true;
}

/* Reads and checks the journal of the mailbox (dev, ino).  1: j is ready;
 * 0: there is none; -1: there is one that cannot be used (logged). */
int journal_read(struct plan *j, uint64_t dev, uint64_t ino)
{
	char name[96];
	journal_name(name, sizeof(name), ino, "new");
	unlinkat(state_fd(), name, 0);	/* never renamed: never used */
	journal_name(name, sizeof(name), ino, "journal");
	int fd = openat(state_fd(), name, O_RDWR | O_NOFOLLOW | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	j->fd = fd;
	uint8_t h[HEAD_BYTES], d[DLEN], want[DLEN], *dels = NULL;
	struct stat st;
	/* Another host may have written it last (netfs.h). */
	if (!netfs_flush(fd) || fstat(fd, &st) < 0 ||
	    !fdio_pread_all(fd, h, HEAD_BYTES, 0))
		goto bad;
	if (memcmp(h, MAGIC, PHASE_AT) != 0)
		goto bad;
	const uint8_t *v = h + VALUES_AT;
	j->phase = (char)h[PHASE_AT];
	memcpy(j->bsum, h + PHASE_AT + 1, DLEN);
	j->dev = get64(v);
	j->ino = get64(v + 8);
	j->s = (off_t)get64(v + 16);
	j->e = (off_t)get64(v + 24);
	j->pad = (off_t)get64(v + 32);
	j->blen = (off_t)get64(v + 40);
	j->redo = get64(v + 48);
	j->ndel = (size_t)get64(v + 56);
	memcpy(j->tail, v + 64, DLEN);
	if (j->dev != dev)
		log_msg(LOG_WARNING, "UPDATE journal %s/%s: the device number "
		    "changed (remounted, or another host?); checking the mailbox's content",
		    state_dir(), name);
	if (j->ino != ino || j->ndel == 0 || j->ndel > MAX_MESSAGES_LIMIT + 1 ||
	    (j->phase != PH_PREPARE && j->phase != PH_COPY &&
	    j->phase != PH_TRUNCATE) || j->pad < 0 || j->pad > 2 ||
	    j->blen < j->pad || j->s < 0 || j->blen > INT64_MAX / 2 - j->s ||
	    st.st_size != HEAD_BYTES + 16 * (off_t)j->ndel + DLEN)
		goto bad;
	size_t n = 16 * j->ndel;
	dels = malloc(n);
	j->del = malloc(j->ndel * sizeof(*j->del));
	if (!dels || !j->del || !fdio_pread_all(fd, dels, n, HEAD_BYTES) ||
	    !fdio_pread_all(fd, d, DLEN, HEAD_BYTES + (off_t)n))
		goto bad;
	checksum(h, dels, n, want);
	if (memcmp(d, want, DLEN) != 0)
		goto bad;
	for (size_t i = 0; i < j->ndel; i++)
		j->del[i] = (struct range){ (off_t)get64(dels + 16 * i),
		    (off_t)get64(dels + 16 * i + 8) };
	off_t b = j->pad;
	if (!journal_plan_check(j) || j->e < j->p + j->l || j->e > j->s)
		goto bad;
	for (size_t i = 0; i < j->ndel; i++)
		b += journal_backup_part(j, journal_kept(j, i));
	if (b != j->blen || (b == j->pad && j->pad != 0))
		goto bad;
	free(dels);
	return 1;
bad:
	free(dels);
	log_msg(LOG_CRIT, "UPDATE journal %s/%s is damaged or does not match "
	    "the mailbox: the mailbox is not served until an admin looks",
	    state_dir(), name);
	return -1;
}

void journal_free(struct plan *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->del);
	j->fd = -1;
	j->del = NULL;
}

bool journal_remove(struct plan *j)
{
	char name[96];
	journal_name(name, sizeof(name), j->ino, "journal");
	if (unlinkat(state_fd(), name, 0) < 0)
		return false;
	if (!state_sync())	/* harmless: see DESIGN */
		log_msg(LOG_WARNING, "fsync of %s: %s", state_dir(),
		    strerror(errno));
	return true;
}

