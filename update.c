/*
 * update.c: the crash-safe UPDATE in place, as DESIGN ("The UPDATE")
 * specifies it: the plan, its phases, the recovery and the failure model;
 * the names S, P, L, E, BL and M are DESIGN's.  One function per phase:
 *   0. truncate_only    nothing kept after P: one ftruncate
 *   1. prepare          PREPARE: the journal, the backup, phase COPY
 *   2. copy_phase       COPY: the kept ranges from P on, phase TRUNCATE
 *   3. truncate_phase   TRUNCATE: cut at P+L, the journal removed
 *      roll_back        a PREPARE that a recovery finds
 * run_plan drives them from a plan's phase to the end; update_commit and
 * update_recover start it, with every signal blocked.
 * Runs in: the user's session.
 */
#define _GNU_SOURCE	/* sync_file_range (Linux), used where it exists */
#include "update.h"
#include "fdio.h"
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

/* Big writes go to the disk as they are made (DESIGN, PREPARE and COPY):
 * each STREAM_CHUNK is started on its way; a backup's is also waited for
 * and dropped from the page cache one chunk behind.  An error there is an
 * I/O error of the write (a wait consumes it: fsync would not see it). */
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

/* The digest of a backup of blen bytes, fed its bytes in order: its
 * length, BACKUP_SAMPLE bytes at every BACKUP_STRIDE and its last
 * BACKUP_SAMPLE.  The backup is durable before the journal says COPY; the
 * digest tells it from whatever else could be there: a truncated tail with
 * mail appended since, or a file someone else rewrote.  An UPDATE takes it
 * from the bytes as it writes them; a recovery reads them back. */
struct sampler {
	digest_ctx ctx;
	off_t at;			/* bytes fed */
	size_t nlast;
	char last[BACKUP_SAMPLE];	/* the last nlast bytes fed */
};

static void sampler_begin(struct sampler *s, off_t blen)
{
	uint8_t len[8];
	digest_begin(&s->ctx);
	s->at = 0;
	s->nlast = 0;
	journal_put64(len, (uint64_t)blen);
	digest_add(&s->ctx, len, sizeof(len));
}

static void sampler_feed(struct sampler *s, const char *p, size_t n)
{
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
	digest_add(&s->ctx, (const uint8_t *)s->last, s->nlast);
	digest_end(&s->ctx, out);
}

/* Copies n bytes from `at` to `to` in fd, front to back (to <= at, or the
 * ranges apart), streamed to the disk; touches the dotlock now and then,
 * since a big rewrite may outlast the 5-minute stale rule.  Into the
 * backup (`sum` its digest) each write ends at a From_ line when one is in
 * the buffer: then a crash leaves whole messages only, and mail appended
 * after it starts a message. */
static bool copy(int fd, off_t at, off_t to, off_t n, char *buf,
    struct lock *lk, struct stream *out, struct sampler *sum)
{
	while (n > 0) {
		size_t k = n < UPDATE_BUFFER ? (size_t)n : UPDATE_BUFFER;
		if (!fdio_pread_all(fd, buf, k, at))
			return false;
		for (size_t q = k - 4; sum && (off_t)k < n &&
		    q-- > MBOX_LOOKBEHIND; )
			if (from_after_blank(buf + q, q)) {
				k = q;
				break;
			}
		if (!fdio_pwrite_all(fd, buf, k, to))
			return false;
		if (sum)
			sampler_feed(sum, buf, k);
		at += (off_t)k;
		to += (off_t)k;
		n -= (off_t)k;
		if (!stream(fd, out, to))
			return false;
		lock_refresh(lk);
	}
	return true;
}

/* The digest of plan j's backup [S, S+BL), read back from the file (a
 * recovery, which then copies from the backup too). */
static bool backup_sum(int fd, const struct plan *j, char *buf, uint8_t *out)
{
	struct sampler sum;
	sampler_begin(&sum, j->blen);
	for (off_t at = 0; at < j->blen; ) {
		size_t k = j->blen - at < UPDATE_BUFFER ?
		    (size_t)(j->blen - at) : UPDATE_BUFFER;
		if (!fdio_pread_all(fd, buf, k, j->s + at))
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
_Static_assert(TAIL_SAMPLE <= UPDATE_BUFFER, "both samples fit in buf");
static bool tail_fingerprint(int fd, off_t from, off_t to, char *buf,
    uint8_t *out)
{
	off_t n = to - from;
	size_t head = n < TAIL_SAMPLE ? (size_t)n : TAIL_SAMPLE;
	size_t end = n - (off_t)head < TAIL_SAMPLE ? (size_t)n - head :
	    TAIL_SAMPLE;
	uint8_t len[8];
	digest_ctx ctx;
	if (!fdio_pread_all(fd, buf, head, from) ||
	    !fdio_pread_all(fd, buf + head, end, to - (off_t)end))
		return false;
	journal_put64(len, (uint64_t)n);
	digest_begin(&ctx);
	digest_add(&ctx, len, sizeof(len));
	digest_add(&ctx, (uint8_t *)buf, head + end);
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
		if (!fdio_pread_all(fd, buf, k, at))
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
	if (!journal_plan_check(j))
		return false;
	off_t cut = j->p + j->l, b = 0;
	j->e = cut;
	for (size_t i = 0; i < j->ndel; i++) {
		struct range r = journal_kept(j, i);
		if (r.from < cut && cut < r.from + r.len) {
			j->e = next_from(fd, cut, r.from + r.len, j->s,
			    buf);
			if (j->e < 0)
				return false;
		}
	}
	for (size_t i = 0; i < j->ndel; i++)
		b += journal_backup_part(j, journal_kept(j, i));
	j->pad = 0;
	if (b > 0) {
		char end[2] = { 'x', 'x' };
		off_t n = j->s < 2 ? j->s : 2;
		if (!fdio_pread_all(fd, end + 2 - n, (size_t)n, j->s - n))
			return false;
		j->pad = end[1] != '\n' ? 2 : end[0] != '\n' ? 1 : 0;
	}
	j->blen = j->pad + b;
	memset(j->bsum, 0, sizeof(j->bsum));
	return tail_fingerprint(fd, cut, j->s, buf, j->tail);
}

/* Are the old tail [P+L, S) and the backup still there?  1 yes; 0 no
 * (truncated already, or other bytes there); -1 a read error. */
static int tail_present(int fd, const struct plan *j, off_t size, char *buf)
{
	uint8_t d[DLEN];
	if (size < j->s + j->blen)
		return 0;
	if (!tail_fingerprint(fd, j->p + j->l, j->s, buf, d))
		return -1;
	if (memcmp(d, j->tail, sizeof(d)) != 0)
		return 0;
	if (!backup_sum(fd, j, buf, d))
		return -1;
	return memcmp(d, j->bsum, sizeof(d)) == 0;
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
		    journal_kept(j, i - 1);
		off_t n = i == 0 ? r.len : journal_backup_part(j, r);
		for (off_t done = 0; done < n && at - j->s < max; ) {
			off_t left = max - (at - j->s);
			off_t m = n - done < left ? n - done : left;
			size_t k = m < UPDATE_BUFFER ? (size_t)m : UPDATE_BUFFER;
			if (i == 0)
				memset(mine, '\n', k);
			else if (!fdio_pread_all(fd, mine, k, r.from + done))
				return -1;
			if (!fdio_pread_all(fd, buf, k, at))
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
		if (!fdio_pread_all(fd, buf, (size_t)(hi - lo), lo))
			return -1;
		for (off_t q = hi - 5; q >= lo; q--)
			if (q - j->s <= cp && is_from(buf + (q - lo), 5))
				return q - j->s;
		if (lo == j->s)
			break;
		hi = lo + 4;
	}
	return cp;
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

static void mismatch(void)
{
	log_msg(LOG_CRIT, "the mailbox no longer matches its UPDATE journal "
	    "in %s", state_dir());
	errno = EUCLEAN;
}

/* ---- the phases (DESIGN, "The UPDATE") --------------------------------- */

/* 0. Nothing kept after P (the size was confirmed just now): one
 * ftruncate(P), atomic, needs no journal and costs no copy. */
static enum upd_status truncate_only(int fd, const struct plan *j)
{
	enum upd_status s = UPD_NOTHING;
	if (ftruncate(fd, j->p) == 0)
		s = fsync(fd) == 0 ? UPD_OK : UPD_UNSURE;
	if (s != UPD_OK)
		log_msg(LOG_ERR, "UPDATE (truncate): %s", strerror(errno));
	return s;
}

enum prepared { PREP_COPY, PREP_NOTHING, PREP_PENDING };

/* 1. PREPARE, for a made plan: its journal, the backup appended at S
 * (its digest taken on the way), fsync, phase COPY.  PREP_NOTHING:
 * failed, and the mailbox is as before, the journal removed (a plan made
 * by a recovery is never given up: PREP_PENDING). */
static enum prepared prepare(int fd, struct plan *j, char *buf,
    struct lock *lk)
{
	struct sampler sum;
	struct stream out = { .begun = j->s, .done = j->s, .drop = true };
	off_t to = j->s + j->pad;
	j->phase = j->blen > 0 ? PH_PREPARE : PH_COPY;
	if (j->blen == 0 && !backup_sum(fd, j, buf, j->bsum))
		return PREP_NOTHING;
	if (!journal_write(j)) {
		int e = errno;
		if (j->redo)
			return PREP_PENDING;
		if (j->fd >= 0)
			journal_remove(j);
		errno = e;
		return PREP_NOTHING;
	}
	if (j->blen == 0)
		return PREP_COPY;
	sampler_begin(&sum, j->blen);
	sampler_feed(&sum, "\n\n", (size_t)j->pad);
	bool ok = fdio_pwrite_all(fd, "\n\n", (size_t)j->pad, j->s);
	for (size_t i = 0; ok && i < j->ndel; i++) {
		struct range r = journal_kept(j, i);
		off_t n = journal_backup_part(j, r);
		ok = copy(fd, r.from, to, n, buf, lk, &out, &sum);
		to += n;
	}
	sampler_end(&sum, j->bsum);
	if (ok && fsync(fd) == 0 && journal_phase(j, PH_COPY))
		return PREP_COPY;
	/* No room for the backup (ENOSPC, EDQUOT) or a bad disk: remove what
	 * was appended; the journal says PREPARE until this is durable. */
	int e = errno;
	enum prepared r = PREP_PENDING;
	if (!j->redo && ftruncate(fd, j->s) == 0 && fsync(fd) == 0 &&
	    journal_remove(j))
		r = PREP_NOTHING;
	errno = e;
	return r;
}

/* 2. COPY: write the kept ranges from P on, fsync, phase TRUNCATE.  Bytes
 * below E come from the backup, checked first, unless it was just made
 * (`fresh`): then every kept byte is still at its place, read before it
 * is overwritten. */
static bool copy_phase(int fd, struct plan *j, off_t size, char *buf,
    struct lock *lk, bool fresh)
{
	struct stream out = { .begun = j->p, .done = j->p };
	off_t dst = j->p, b = j->s + j->pad;
	int there = fresh ? 1 : tail_present(fd, j, size, buf);
	if (there == 0)
		mismatch();
	if (there <= 0)
		return false;
	for (size_t i = 0; i < j->ndel; i++) {
		struct range r = journal_kept(j, i);
		off_t k = fresh ? 0 : journal_backup_part(j, r);
		if (!copy(fd, b, dst, k, buf, lk, &out, NULL) ||
		    !copy(fd, r.from + k, dst + k, r.len - k, buf, lk, &out,
		    NULL))
			return false;
		b += k;
		dst += r.len;
	}
	return fsync(fd) == 0 && journal_phase(j, PH_TRUNCATE);
}

/* How a step of a plan ended: done, failed, the file grew under the step
 * (plan it again), or mail appended after a crash (M) is kept by the next
 * plan, which the step made. */
enum step { STEP_DONE, STEP_FAILED, STEP_AGAIN, STEP_NEXT };

/* Cuts the file of `size` bytes at `at`, fsync, the journal removed; the
 * size confirmed first (confirm_size): bytes beyond it are new mail. */
static enum step cut(int fd, struct plan *j, off_t size, off_t at)
{
	int c = confirm_size(fd, size);
	if (c > 0)
		return STEP_AGAIN;
	return c == 0 && ftruncate(fd, at) == 0 && fsync(fd) == 0 &&
	    journal_remove(j) ? STEP_DONE : STEP_FAILED;
}

/* The next plan, made by a recovery (never rolled back): it deletes the
 * first `own` deletions of j and r (joined to the last when they touch;
 * r may be empty), in a file of `size` bytes. */
static enum step replan(const struct plan *j, size_t own, struct range r,
    off_t size, struct plan *next)
{
	*next = (struct plan){ .fd = j->fd, .dev = j->dev, .ino = j->ino,
	    .s = size, .redo = 1, .ndel = own,
	    .del = malloc((own + 1) * sizeof(*next->del)) };
	if (!next->del)
		return STEP_FAILED;
	memcpy(next->del, j->del, own * sizeof(*j->del));
	struct range *last = own > 0 ? &next->del[own - 1] : NULL;
	if (last && last->from + last->len == r.from)
		last->len += r.len;
	else if (r.len > 0)
		next->del[next->ndel++] = r;
	return STEP_NEXT;
}

/* 3. TRUNCATE: cut the file at P+L.  Unless `verified`, the old tail and
 * the backup are read first: when they are gone the cut was made, and
 * anything beyond P+L is M (a read error is no answer: failed).  M beyond
 * the backup: a new plan removes [P+L, S+BL) and keeps it. */
static enum step truncate_phase(int fd, struct plan *j, off_t size,
    bool verified, char *buf, struct plan *next)
{
	off_t pl = j->p + j->l;
	int there = verified ? 1 : tail_present(fd, j, size, buf);
	if (there < 0)
		return STEP_FAILED;
	if (there == 0)
		return fsync(fd) == 0 && journal_remove(j) ? STEP_DONE :
		    STEP_FAILED;
	if (size == j->s + j->blen)
		return cut(fd, j, size, pl);
	return replan(j, 0, (struct range){ pl, j->s + j->blen - pl }, size,
	    next);
}

/* A recovery finds PREPARE: [0, S) is intact, then a prefix [S, S+x) of
 * the backup, then maybe M.  Without M, cut the file at S (rolled back).
 * With M a new plan removes [S, S+x) and keeps M; so does a plan made by
 * a recovery, which keeps its own deletions and goes on. */
static enum step roll_back(int fd, struct plan *j, off_t size, char *buf,
    struct plan *next)
{
	if (size < j->s) {
		mismatch();
		return STEP_FAILED;
	}
	off_t cp = backup_prefix(fd, j, size, buf);
	off_t x = cp < 0 || cp == size - j->s ? cp :
	    mail_start(fd, j, cp, size, buf);
	if (x < 0)
		return STEP_FAILED;
	if (!j->redo && x == size - j->s)
		return cut(fd, j, size, j->s);
	if (!j->redo && x == 0)
		return journal_remove(j) ? STEP_DONE : STEP_FAILED;
	return replan(j, j->redo ? j->ndel : 0, (struct range){ j->s, x },
	    size, next);
}

/* Runs plan j from its phase to the end, and the plans a recovery makes
 * after it.  `verified`: j's backup and tail are known to be as planned
 * (just written, under the lock), no need to read them back. */
static bool run_plan(int fd, struct plan *j, char *buf, struct lock *lk,
    bool verified)
{
	for (;;) {
		struct stat st;
		struct plan next;
		enum step s;
		if (fstat(fd, &st) < 0)
			return false;
		if (j->phase == PH_COPY) {
			if (!copy_phase(fd, j, st.st_size, buf, lk, verified))
				return false;
			verified = true;
		}
		s = j->phase == PH_PREPARE ?
		    roll_back(fd, j, st.st_size, buf, &next) :
		    truncate_phase(fd, j, st.st_size, verified, buf, &next);
		if (s == STEP_AGAIN)
			continue;
		if (s != STEP_NEXT)
			return s == STEP_DONE;
		enum prepared r = PREP_PENDING;
		if (plan_make(fd, &next, buf))
			r = prepare(fd, &next, buf, lk);
		free(j->del);
		*j = next;
		if (r != PREP_COPY)
			return false;
		verified = true;
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
			if (run_plan(fd, &j, buf, lk, false))
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

/* QUIT's plan: the deletions in a file of `size` bytes, as the scan saw
 * it; what appeared beyond since is kept like mail appended since the
 * scan.  False (logged): nothing can be deleted. */
static bool plan_quit(int fd, struct plan *j, off_t size)
{
	struct stat now;
	if (!journal_plan_check(j)) {
		log_msg(LOG_ERR, "UPDATE: bad plan");
		return false;
	}
	switch (confirm_size(fd, size)) {
	case 1:
		if (fstat(fd, &now) < 0)
			return false;
		j->s = now.st_size;
		return journal_plan_check(j);
	case -1:
		log_msg(LOG_ERR, "UPDATE: %s; nothing deleted", strerror(errno));
		return false;
	}
	return true;
}

/* Steps 1 to 3 for QUIT's plan. */
static enum upd_status rewrite(int fd, const struct stat *st, struct plan *j,
    char *buf, struct lock *lk)
{
	if (state_fd() < 0) {
		log_msg(LOG_ERR, "UPDATE refused: no state directory for its "
		    "journal (%s; see --state-dir); nothing deleted",
		    state_problem()[0] ? state_problem() : "none configured");
		return UPD_NOTHING;
	}
	if (!plan_make(fd, j, buf)) {
		log_msg(LOG_ERR, "UPDATE: cannot read the mailbox: %s; nothing "
		    "deleted", strerror(errno));
		return UPD_NOTHING;
	}
	switch (prepare(fd, j, buf, lk)) {
	case PREP_NOTHING:
		log_msg(LOG_ERR, "UPDATE: cannot write its journal in %s or "
		    "its backup in the mailbox: %s; nothing deleted",
		    state_dir(), strerror(errno));
		return UPD_NOTHING;
	case PREP_PENDING:
		log_msg(LOG_ERR, "UPDATE: cannot remove a partial backup: %s; "
		    "the next login does", strerror(errno));
		return UPD_PENDING;
	case PREP_COPY:
		break;
	}
	/* From here on the UPDATE will complete. */
	if (run_plan(fd, j, buf, lk, true))
		return UPD_OK;
	/* An fsync error is final: nothing written since the last good fsync
	 * is trusted.  Redo everything once from the journal (idempotent);
	 * else the next start will. */
	log_msg(LOG_ERR, "UPDATE: %s; redoing it from the journal",
	    strerror(errno));
	return update_recover(fd, st, lk) == UPD_OK ? UPD_OK : UPD_PENDING;
}

enum upd_status update_commit(int fd, const struct stat *st, struct lock *lk,
    off_t size, const struct range *del, size_t n)
{
	sigset_t old;
	block_signals(&old);
	enum upd_status s = UPD_NOTHING;
	char *buf = malloc(2 * UPDATE_BUFFER);
	struct plan j = {
		.fd = -1, .dev = (uint64_t)st->st_dev,
		.ino = (uint64_t)st->st_ino, .s = size, .ndel = n,
		.del = malloc((n ? n : 1) * sizeof(*del)),
	};
	if (!buf || !j.del)
		log_msg(LOG_ERR, "UPDATE: out of memory");
	else {
		memcpy(j.del, del, n * sizeof(*del));
		if (plan_quit(fd, &j, size))
			s = j.l == 0 ? truncate_only(fd, &j) :
			    rewrite(fd, st, &j, buf, lk);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	journal_free(&j);
	free(buf);
	return s;
}
