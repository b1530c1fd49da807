/*
 * update.c: the crash-safe in-place UPDATE.  See update.h and the README
 * ("Locking and UPDATE") for the design; in short, a plan is "delete these
 * byte ranges of [0, S)" (QUIT's deleted messages, or what a recovery must
 * remove); P = the first deleted byte, L = the bytes kept after P, and the
 * copy overwrites [P, P+L).  E >= P+L is the end of the kept message that
 * straddles P+L (a From_ boundary); the BACKUP is every kept byte below E,
 * whole messages, written at the END of the mailbox itself, [S, S+BL), so
 * that at every instant each kept message is intact in the mailbox: at its
 * old place or in the backup.  The small journal in the state directory
 * holds the plan and its phase:
 *
 *   PREPARE   journal "update-INO.new" written, fsync'ed, renamed to
 *             "update-INO.journal", directory fsync'ed; then the backup is
 *             appended ('\n' padding so it starts at a From_ boundary)
 *             and the mailbox fsync'ed;
 *   COPY      (with the backup's digest) the kept ranges are written one
 *             after another from P on, front to back: right after the
 *             backup was made, from their place (each block is read before
 *             it is overwritten); in a recovery, bytes below E from the
 *             backup, the others from their place (beyond P+L, never
 *             overwritten); fsync;
 *   TRUNCATE  ftruncate(P+L), fsync, unlink the journal, fsync the dir.
 * Recovery: PREPARE rolls back (the partial backup is removed: a prefix of
 * the backup, recomputed from the intact [P, S)); COPY and TRUNCATE roll
 * forward.  Mail an MDA appended after a crash (M, at the end) is kept by a
 * new plan that deletes the partial backup or the old tail and keeps M; it
 * replaces the journal by rename(2) and is always rolled forward.
 * The whole commit runs with signals blocked; only SIGKILL or a power cut
 * can stop it between two system calls, and the journal covers both.
 */
#define _GNU_SOURCE	/* sync_file_range (Linux), used where it exists */
#include "update.h"
#include "journal.h"
#include "log.h"
#include "mbox.h"
#include "netfs.h"
#include "params.h"
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Big writes go to the disk as they are made, not all at the next fsync:
 * each STREAM_CHUNK written is started on its way (sync_file_range, where
 * Linux has it), so that the fsync that ends a phase finds little left to
 * do.  A backup is also waited for and dropped from the page cache one
 * chunk behind: only a recovery reads it, and the pages it frees are
 * the ones its next chunk reuses.  An error there is an I/O error of the
 * write (a wait consumes it: a later fsync would not see it). */
struct stream {
	off_t begun, done;	/* file offsets */
	bool drop;		/* wait for and drop what was written */
};

static bool stream(int fd, struct stream *s, off_t upto)
{
#ifdef SYNC_FILE_RANGE_WRITE
	while (upto - s->begun >= STREAM_CHUNK) {
		if (sync_file_range(fd, s->begun, STREAM_CHUNK,
		    SYNC_FILE_RANGE_WRITE) < 0)
			return false;
		if (s->drop && s->begun > s->done) {
			if (sync_file_range(fd, s->done, s->begun - s->done,
			    SYNC_FILE_RANGE_WAIT_BEFORE |
			    SYNC_FILE_RANGE_WRITE |
			    SYNC_FILE_RANGE_WAIT_AFTER) < 0)
				return false;
			posix_fadvise(fd, s->done, s->begun - s->done,
			    POSIX_FADV_DONTNEED);
			s->done = s->begun;
		}
		s->begun += STREAM_CHUNK;
	}
#else
	(void)fd, (void)s, (void)upto;
#endif
	return true;
}

/* Copies n bytes from `at` to `to` in fd, front to back (to <= at, or the
 * ranges apart); touches the dotlock now and then, since a big rewrite may
 * outlast the 5-minute stale rule. */
static bool copy(int fd, off_t at, off_t to, off_t n, char *buf,
    struct lock *lk, struct stream *out)
{
	while (n > 0) {
		size_t k = n < UPDATE_BUFFER ? (size_t)n : UPDATE_BUFFER;
		if (!pread_all(fd, buf, k, at) || !pwrite_all(fd, buf, k, to))
			return false;
		at += (off_t)k;
		to += (off_t)k;
		n -= (off_t)k;
		if (!stream(fd, out, to))
			return false;
		lock_refresh(lk);
	}
	return true;
}

/* The digest of a backup of blen bytes, fed its bytes in order: its
 * length, BACKUP_SAMPLE bytes at every BACKUP_STRIDE and its last
 * BACKUP_SAMPLE; for a version-2 journal (`all`), every byte and no
 * length.  The backup is durable before the journal says COPY; the digest
 * tells it from whatever else could be there: a truncated tail with mail
 * appended since, or a file someone else rewrote.  An UPDATE takes it
 * from the bytes as it writes them; a recovery reads them back. */
struct sampler {
	digest_ctx ctx;
	bool all;
	off_t at;			/* bytes fed */
	size_t nlast;
	char last[BACKUP_SAMPLE];	/* the last nlast bytes fed */
};

static void sampler_begin(struct sampler *s, off_t blen, bool all)
{
	digest_begin(&s->ctx);
	s->all = all;
	s->at = 0;
	s->nlast = 0;
	if (!all) {
		uint8_t len[8];
		put64(len, (uint64_t)blen);
		digest_add(&s->ctx, len, sizeof(len));
	}
}

static void sampler_feed(struct sampler *s, const char *p, size_t n)
{
	if (s->all) {
		digest_add(&s->ctx, (const uint8_t *)p, n);
		return;
	}
	for (size_t i = 0; i < n; ) {
		off_t in = s->at % BACKUP_STRIDE;
		off_t want = in < BACKUP_SAMPLE ? BACKUP_SAMPLE - in :
		    BACKUP_STRIDE - in;
		size_t k = (off_t)(n - i) < want ? n - i : (size_t)want;
		if (in < BACKUP_SAMPLE)
			digest_add(&s->ctx, (const uint8_t *)p + i, k);
		i += k;
		s->at += (off_t)k;
	}
	if (n >= BACKUP_SAMPLE) {
		memcpy(s->last, p + n - BACKUP_SAMPLE, BACKUP_SAMPLE);
		s->nlast = BACKUP_SAMPLE;
		return;
	}
	size_t keep = s->nlast < BACKUP_SAMPLE - n ? s->nlast :
	    BACKUP_SAMPLE - n;
	memmove(s->last, s->last + s->nlast - keep, keep);
	memcpy(s->last + keep, p, n);
	s->nlast = keep + n;
}

static void sampler_end(struct sampler *s, uint8_t *out)
{
	if (!s->all)
		digest_add(&s->ctx, (const uint8_t *)s->last, s->nlast);
	digest_end(&s->ctx, out);
}

/* The digest of plan j's backup [S, S+BL), read back from the file (a
 * recovery, which then copies from the backup too). */
static bool backup_sum(int fd, const struct plan *j, char *buf, uint8_t *out)
{
	struct sampler sum;
	sampler_begin(&sum, j->blen, j->full_sum);
	for (off_t at = 0; at < j->blen; ) {
		size_t k = j->blen - at < UPDATE_BUFFER ?
		    (size_t)(j->blen - at) : UPDATE_BUFFER;
		if (!pread_all(fd, buf, k, j->s + at))
			return false;
		sampler_feed(&sum, buf, k);
		at += (off_t)k;
	}
	sampler_end(&sum, out);
	return true;
}

/* A digest of the old tail [from, to) of the mailbox: its length, its
 * first and its last TAIL_SAMPLE bytes.  It tells whether the tail is still
 * there (not yet truncated) without reading a whole deleted gigabyte. */
static bool tail_digest(int fd, off_t from, off_t to, uint8_t *out)
{
	static char buf[TAIL_SAMPLE];
	digest_ctx ctx;
	uint8_t len[8];
	digest_begin(&ctx);
	put64(len, (uint64_t)(to - from));
	digest_add(&ctx, len, sizeof(len));
	off_t n = to - from;
	off_t parts[2][2] = { { from, n < TAIL_SAMPLE ? n : TAIL_SAMPLE },
	    { to - TAIL_SAMPLE, 0 } };
	if (n > TAIL_SAMPLE) {
		off_t rest = n - TAIL_SAMPLE;
		parts[1][0] = to - (rest < TAIL_SAMPLE ? rest : TAIL_SAMPLE);
		parts[1][1] = to - parts[1][0];
	}
	for (int i = 0; i < 2; i++) {
		if (!pread_all(fd, buf, (size_t)parts[i][1], parts[i][0]))
			return false;
		digest_add(&ctx, (uint8_t *)buf, (size_t)parts[i][1]);
	}
	digest_end(&ctx, out);
	return true;
}

/* ---- the plan ---------------------------------------------------------- */

/* Does a message start at q, with lo <= q < hi (a From_ line after a
 * blank line, mbox.h)?  The first such q, or hi. */
static off_t next_from(int fd, off_t lo, off_t hi, off_t size, char *buf)
{
	const off_t back = MBOX_LOOKBEHIND;
	off_t end = hi + 5 < size ? hi + 5 : size;
	for (off_t at = lo > back ? lo - back : 0; end - at >= 5; ) {
		off_t n = end - at;
		size_t k = n < UPDATE_BUFFER ? (size_t)n : UPDATE_BUFFER;
		if (!pread_all(fd, buf, k, at))
			return -1;
		/* Candidates have `back` bytes before them in buf, or all the
		 * bytes from the start of the file. */
		size_t i = lo - at > (at > 0 ? back : 0) ? (size_t)(lo - at) :
		    at > 0 ? (size_t)back : 0;
		for (; i + 5 <= k && at + (off_t)i < hi; i++)
			if (from_after_blank(buf + i, i))
				return at + (off_t)i;
		if (at + (off_t)k >= end)
			break;
		at += (off_t)k - 5 - back;
	}
	return hi;
}

/* Fills in E, the padding, BL and the tail's fingerprint of a plan whose
 * deletions and S are set. */
static bool plan_make(int fd, struct plan *j, char *buf)
{
	if (!plan_check(j))
		return false;
	off_t cut = j->p + j->l, b = 0;
	j->e = cut;
	for (size_t i = 0; i < j->ndel; i++) {
		struct range r = kept(j, i);
		if (r.from < cut && cut < r.from + r.len) {
			j->e = next_from(fd, cut, r.from + r.len, j->s,
			    buf);
			if (j->e < 0)
				return false;
		}
	}
	for (size_t i = 0; i < j->ndel; i++)
		b += backup_part(j, kept(j, i));
	j->pad = 0;
	if (b > 0) {
		char end[2] = { 'x', 'x' };
		off_t n = j->s < 2 ? j->s : 2;
		if (!pread_all(fd, end + 2 - n, (size_t)n, j->s - n))
			return false;
		j->pad = end[1] != '\n' ? 2 : end[0] != '\n' ? 1 : 0;
	}
	j->blen = j->pad + b;
	memset(j->bsum, 0, sizeof(j->bsum));
	return tail_digest(fd, cut, j->s, j->tail);
}

/* Is [P+L, S) + backup still there?  (False once truncated.) */
static bool tail_present(int fd, const struct plan *j, off_t size, char *buf)
{
	uint8_t d[DLEN];
	return size >= j->s + j->blen &&
	    tail_digest(fd, j->p + j->l, j->s, d) &&
	    memcmp(d, j->tail, sizeof(d)) == 0 &&
	    backup_sum(fd, j, buf, d) && memcmp(d, j->bsum, sizeof(d)) == 0;
}

/* Appends the backup at S, taking its digest on the way; fsync is the
 * caller's. */
static bool backup_write(int fd, struct plan *j, char *buf, struct lock *lk)
{
	struct sampler sum;
	struct stream out = { .begun = j->s, .done = j->s, .drop = true };
	off_t to = j->s;
	sampler_begin(&sum, j->blen, j->full_sum);
	if (j->pad > 0) {
		if (!pwrite_all(fd, "\n\n", (size_t)j->pad, to))
			return false;
		sampler_feed(&sum, "\n\n", (size_t)j->pad);
		to += j->pad;
	}
	for (size_t i = 0; i < j->ndel; i++) {
		struct range r = kept(j, i);
		for (off_t at = r.from, n = backup_part(j, r); n > 0; ) {
			size_t k = n < UPDATE_BUFFER ? (size_t)n : UPDATE_BUFFER;
			if (!pread_all(fd, buf, k, at))
				return false;
			/* End each write at a From_ line when one is in the
			 * buffer: then a crash leaves whole messages only
			 * (and mail appended after it starts a message). */
			for (size_t q = k - 4; (off_t)k < n &&
			    q-- > MBOX_LOOKBEHIND; )
				if (from_after_blank(buf + q, q)) {
					k = q;
					break;
				}
			if (!pwrite_all(fd, buf, k, to))
				return false;
			sampler_feed(&sum, buf, k);
			at += (off_t)k;
			to += (off_t)k;
			n -= (off_t)k;
			if (!stream(fd, &out, to))
				return false;
			lock_refresh(lk);
		}
	}
	sampler_end(&sum, j->bsum);
	return true;
}

/* PREPARE: how long a prefix of file[S, size) is the backup's?  [0, S) is
 * intact, so the backup is recomputed from it.  -1 on a read error. */
static off_t backup_prefix(int fd, const struct plan *j, off_t size,
    char *buf)
{
	char *mine = buf + UPDATE_BUFFER;
	off_t at = j->s, max = size - j->s < j->blen ? size - j->s : j->blen;
	for (size_t i = 0; i <= j->ndel && at - j->s < max; i++) {
		struct range r = i == 0 ? (struct range){ -1, j->pad } :
		    kept(j, i - 1);
		off_t n = i == 0 ? r.len : backup_part(j, r);
		for (off_t done = 0; done < n && at - j->s < max; ) {
			off_t left = max - (at - j->s);
			off_t m = n - done < left ? n - done : left;
			size_t k = m < UPDATE_BUFFER ? (size_t)m : UPDATE_BUFFER;
			if (i == 0)
				memset(mine, '\n', k);
			else if (!pread_all(fd, mine, k, r.from + done))
				return -1;
			if (!pread_all(fd, buf, k, at))
				return -1;
			for (size_t q = 0; q < k; q++)
				if (buf[q] != mine[q])
					return at + (off_t)q - j->s;
			at += (off_t)k;
			done += (off_t)k;
		}
	}
	return at - j->s;
}

/* Where does mail an MDA appended after the partial backup [S, S+x)
 * start?  x <= cp, the common prefix; the mail starts with "From ", and its
 * first bytes may equal the backup's next ones ("From " at least): the last
 * "From " at or before S+cp.  (Wrong only if the mail began with a byte-
 * identical copy of the next backed-up message.)  -1: error. */
static off_t mail_start(int fd, const struct plan *j, off_t cp, off_t size,
    char *buf)
{
	off_t hi = j->s + cp + 5 < size ? j->s + cp + 5 : size;
	while (hi - j->s >= 5) {
		off_t lo = hi - UPDATE_BUFFER < j->s ? j->s : hi - UPDATE_BUFFER;
		if (!pread_all(fd, buf, (size_t)(hi - lo), lo))
			return -1;
		for (off_t q = hi - 5; q >= lo; q--)
			if (q - j->s <= cp &&
			    memcmp(buf + (q - lo), "From ", 5) == 0)
				return q - j->s;
		if (lo == j->s)
			break;
		hi = lo + 4;
	}
	return cp;
}

/* COPY: write the kept ranges from P on.  In a recovery, bytes below E
 * come from the backup (the copy may have overwritten their place); the
 * others are never overwritten (the copy ends at P+L <= E).  Right after
 * the backup was made (`fresh`) every kept byte is still at its place, and
 * is read from there: front to back, each block read before it is
 * overwritten, as an in-place rewrite without backup would; the backup is
 * not read at all. */
static bool apply(int fd, const struct plan *j, char *buf, struct lock *lk,
    bool fresh)
{
	struct stream out = { .begun = j->p, .done = j->p };
	off_t dst = j->p, b = j->s + j->pad;
	for (size_t i = 0; i < j->ndel; i++) {
		struct range r = kept(j, i);
		off_t k = fresh ? 0 : backup_part(j, r);
		if (!copy(fd, b, dst, k, buf, lk, &out) ||
		    !copy(fd, r.from + k, dst + k, r.len - k, buf, lk, &out))
			return false;
		b += k;
		dst += r.len;
	}
	return true;
}

/* Is the file still `size` bytes long, as this step was planned for?  Asked
 * right before anything is cut off, after dropping what this host caches
 * about the file on a shared file system (netfs.h): bytes beyond `size`
 * were never seen here, so they are new mail and are never cut.  0 the
 * same; 1 longer: plan again, keeping the new bytes; -1 shorter (someone
 * else truncated the file under the lock) or an error, errno set. */
static int confirm_size(int fd, off_t size)
{
	struct stat st;
	if (!netfs_flush(fd) || fstat(fd, &st) < 0)
		return -1;
	if (st.st_size > size) {
		log_msg(LOG_NOTICE, "UPDATE: %lld bytes appeared beyond the "
		    "%lld seen: kept as new mail",
		    (long long)(st.st_size - size), (long long)size);
		return 1;
	}
	if (st.st_size < size) {
		log_msg(LOG_CRIT, "UPDATE: the mailbox shrank under the lock, "
		    "from %lld to %lld bytes", (long long)size,
		    (long long)st.st_size);
		errno = EUCLEAN;
		return -1;
	}
	return 0;
}

/* ---- the phases, shared by the commit and the recovery ---------------- */

enum start_result { ST_COPY, ST_NOTHING, ST_PENDING };

/* A made plan: its journal (PREPARE), the backup, fsync, phase COPY.
 * ST_NOTHING: failed, and the mailbox is as before, journal removed (a
 * plan made by a recovery is never given up: ST_PENDING instead). */
static enum start_result start(int fd, struct plan *j, char *buf,
    struct lock *lk)
{
	j->phase = j->blen > 0 ? PH_PREPARE : PH_COPY;
	if (j->blen == 0 && !backup_sum(fd, j, buf, j->bsum))
		return ST_NOTHING;
	if (!journal_write(j)) {
		int e = errno;
		if (j->redo)
			return ST_PENDING;
		if (j->fd >= 0)
			journal_remove(j);
		errno = e;
		return ST_NOTHING;
	}
	if (j->blen == 0)
		return ST_COPY;
	if (backup_write(fd, j, buf, lk) && fsync(fd) == 0 &&
	    journal_phase(j, PH_COPY))
		return ST_COPY;
	/* No room for the backup (ENOSPC, EDQUOT) or a bad disk: remove what
	 * was appended; the journal says PREPARE until this is durable. */
	int e = errno;
	enum start_result r = ST_PENDING;
	if (!j->redo && ftruncate(fd, j->s) == 0 && fsync(fd) == 0 &&
	    journal_remove(j))
		r = ST_NOTHING;
	errno = e;
	return r;
}

static bool mismatch(void)
{
	log_msg(LOG_CRIT, "the mailbox no longer matches its UPDATE journal "
	    "in %s", state_dir());
	errno = EUCLEAN;
	return false;
}

/* Runs plan j from its phase to the end.  `fresh`: j's backup and tail
 * are known to be as planned (just written, under the lock), no need to
 * check them.  Mail appended after a crash is kept by a new plan. */
static bool run(int fd, struct plan *j, char *buf, struct lock *lk,
    bool fresh)
{
	for (;;) {
		struct stat st;
		if (fstat(fd, &st) < 0)
			return false;
		off_t size = st.st_size, x = 0;
		struct plan next = { .fd = j->fd, .dev = j->dev, .ino = j->ino,
			.s = size, .redo = 1 };
		if (j->phase == PH_PREPARE) {
			/* [0, S) is intact; then a partial backup [S, S+x),
			 * then maybe mail appended since (M). */
			if (size < j->s)
				return mismatch();
			off_t cp = backup_prefix(fd, j, size, buf);
			x = cp < 0 || cp == size - j->s ? cp :
			    mail_start(fd, j, cp, size, buf);
			if (x < 0)
				return false;
			if (!j->redo && x == size - j->s) {
				int c = confirm_size(fd, size);
				if (c > 0)
					continue;
				return c == 0 && ftruncate(fd, j->s) == 0 &&
				    fsync(fd) == 0 && journal_remove(j);
			}
			if (!j->redo && x == 0)
				return journal_remove(j);
			/* Remove [S, S+x), keep M; a plan made by a recovery
			 * keeps its own deletions and goes on. */
			next.ndel = j->redo ? j->ndel + 1 : 1;
			next.del = malloc(next.ndel * sizeof(*next.del));
			if (!next.del)
				return false;
			if (j->redo)
				memcpy(next.del, j->del,
				    j->ndel * sizeof(*j->del));
			next.del[next.ndel - 1] = (struct range){ j->s, x };
			if (x == 0)
				next.ndel--;
			else if (next.ndel > 1 && next.del[next.ndel - 2].from +
			    next.del[next.ndel - 2].len == j->s)
				next.del[--next.ndel - 1].len += x;
		} else {
			if (j->phase == PH_COPY) {
				if (!fresh && !tail_present(fd, j, size, buf))
					return mismatch();
				if (!apply(fd, j, buf, lk, fresh) ||
				    fsync(fd) < 0 ||
				    !journal_phase(j, PH_TRUNCATE))
					return false;
			}
			if (!fresh && !tail_present(fd, j, size, buf)) {
				/* Truncated already; anything beyond P+L was
				 * appended since, by an MDA. */
				return fsync(fd) == 0 && journal_remove(j);
			}
			if (size == j->s + j->blen) {
				int c = confirm_size(fd, size);
				if (c > 0)
					continue;
				return c == 0 && ftruncate(fd, j->p + j->l) == 0 &&
				    fsync(fd) == 0 && journal_remove(j);
			}
			/* Mail appended after a crash, beyond the backup:
			 * remove [P+L, S+BL), keep it. */
			next.ndel = 1;
			next.del = malloc(sizeof(*next.del));
			if (!next.del)
				return false;
			next.del[0] = (struct range){ j->p + j->l,
			    j->s + j->blen - j->p - j->l };
		}
		enum start_result r = ST_PENDING;
		if (plan_make(fd, &next, buf))
			r = start(fd, &next, buf, lk);
		free(j->del);
		*j = next;
		if (r != ST_COPY)
			return false;
		fresh = true;
	}
}

static void block_signals(sigset_t *old)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, old);
}

enum upd_status update_recover(int fd, const struct stat *st, struct lock *lk)
{
	if (state_fd() < 0) {
		/* No journal can be read: fine only if none can exist. */
		if (!state_unknown())
			return UPD_OK;
		log_msg(LOG_ERR, "not served: an interrupted UPDATE's journal "
		    "may be in state directory %s", state_problem());
		return UPD_PENDING;
	}
	char *buf = malloc(2 * UPDATE_BUFFER);
	if (!buf)
		return UPD_PENDING;
	struct plan j = { .fd = -1 };
	sigset_t old;
	block_signals(&old);
	int r = journal_read(&j, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
	enum upd_status s = UPD_OK;
	if (r != 0) {
		s = UPD_PENDING;
		if (r > 0) {
			log_msg(LOG_NOTICE, "completing an interrupted UPDATE "
			    "(phase %c) from %s", j.phase, state_dir());
			if (run(fd, &j, buf, lk, false))
				s = UPD_OK;
			else
				log_msg(LOG_ERR, "recovery of the UPDATE failed: "
				    "%s", strerror(errno));
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	journal_free(&j);
	free(buf);
	return s;
}

enum upd_status update_commit(int fd, const struct stat *st, struct lock *lk,
    off_t size, const struct range *del, size_t n)
{
	sigset_t old;
	block_signals(&old);
	enum upd_status s = UPD_NOTHING;
	struct stat now;
	char *buf = malloc(2 * UPDATE_BUFFER);
	struct plan j = {
		.fd = -1, .dev = (uint64_t)st->st_dev,
		.ino = (uint64_t)st->st_ino, .s = size, .ndel = n,
		.del = malloc((n ? n : 1) * sizeof(*del)),
	};
	if (!buf || !j.del) {
		log_msg(LOG_ERR, "UPDATE: out of memory");
		goto out;
	}
	memcpy(j.del, del, n * sizeof(*del));
	if (!plan_check(&j)) {
		log_msg(LOG_ERR, "UPDATE: bad plan");
		goto out;
	}
	switch (confirm_size(fd, size)) {
	case 1:
		/* What appeared is kept like mail appended since the scan. */
		if (fstat(fd, &now) < 0)
			goto out;
		j.s = now.st_size;
		if (!plan_check(&j))
			goto out;
		break;
	case -1:
		log_msg(LOG_ERR, "UPDATE: %s; nothing deleted", strerror(errno));
		goto out;
	}
	if (j.l == 0) {
		/* Nothing kept after P (the size was confirmed just now):
		 * one ftruncate, atomic, needs no journal and costs no copy
		 * (deleting everything). */
		if (ftruncate(fd, j.p) == 0)
			s = fsync(fd) == 0 ? UPD_OK : UPD_UNSURE;
		if (s != UPD_OK)
			log_msg(LOG_ERR, "UPDATE (truncate): %s", strerror(errno));
		goto out;
	}
	if (state_fd() < 0) {
		log_msg(LOG_ERR, "UPDATE refused: no state directory for its "
		    "journal (%s; see --state-dir); nothing deleted",
		    state_problem()[0] ? state_problem() : "none configured");
		goto out;
	}
	if (!plan_make(fd, &j, buf)) {
		log_msg(LOG_ERR, "UPDATE: cannot read the mailbox: %s; nothing "
		    "deleted", strerror(errno));
		goto out;
	}
	switch (start(fd, &j, buf, lk)) {
	case ST_NOTHING:
		log_msg(LOG_ERR, "UPDATE: cannot write its journal in %s or "
		    "its backup in the mailbox: %s; nothing deleted",
		    state_dir(), strerror(errno));
		break;
	case ST_PENDING:
		log_msg(LOG_ERR, "UPDATE: cannot remove a partial backup: %s; "
		    "the next login does", strerror(errno));
		s = UPD_PENDING;
		break;
	case ST_COPY:
		/* From here on the UPDATE will complete. */
		s = UPD_OK;
		if (!run(fd, &j, buf, lk, true)) {
			/* An fsync error is final: nothing written since the
			 * last good fsync is trusted.  Redo everything once
			 * from the journal (idempotent); else the next start
			 * will. */
			log_msg(LOG_ERR, "UPDATE: %s; redoing it from the "
			    "journal", strerror(errno));
			s = update_recover(fd, st, lk) == UPD_OK ? UPD_OK :
			    UPD_PENDING;
		}
	}
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	journal_free(&j);
	free(buf);
	return s;
}
