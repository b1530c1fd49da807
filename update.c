/*
 * update.c: the crash-safe in-place UPDATE.  See update.h and the README
 * ("Locking and UPDATE") for the design; in short:
 *
 *   1. journal: write "update-INO.new" in the state directory with the
 *      plan (P = first byte rewritten, S = file size, L = bytes kept after
 *      P, the kept ranges, a digest of the old tail [P+L, S)) and a backup
 *      of every kept byte that lies in [P, P+L) (the copy overwrites those),
 *      fsync it, rename it to "update-INO.journal", fsync the directory;
 *   2. copy: write the kept ranges one after another from P on (bytes
 *      below P+L come from the backup, the others from the file, which the
 *      copy never overwrites), fsync the mailbox, mark the journal "copied"
 *      and fsync it;
 *   3. truncate: ftruncate(P+L), fsync, unlink the journal, fsync the
 *      directory.
 * Recovery redoes 2 and 3 from the journal, which is idempotent.  Mail an
 * MDA appended after a crash (beyond S) is kept by a second journal that
 * removes [P+L, S) the same way; it replaces the first by rename(2).
 * The whole commit runs with signals blocked; only SIGKILL or a power cut
 * can stop it between two system calls, and the journal covers both.
 */
#include "update.h"
#include "digest.h"
#include "log.h"
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

#define MAGIC		"pop3d-journal-1\n"	/* 16 bytes */
#define PHASE_AT	16
#define HEAD_BYTES	(PHASE_AT + 8 + 7 * 8 + SHA256_BYTES)
#define PHASE_COPYING	'C'
#define PHASE_COPIED	'T'

struct journal {
	int fd;
	uint64_t dev, ino;
	off_t p, s, l;		/* P, S and L of the plan */
	size_t nseg;
	off_t blen;		/* backup bytes */
	uint8_t tail[SHA256_BYTES];
	char phase;
	struct range *seg;
	off_t backup_at;	/* where the backup starts in the journal */
};

/* ---- system call wrappers: EINTR retried, short transfers continued;
 *      anything else (EIO, ENOSPC, EDQUOT, EOF) is a failure. ---------- */

static bool pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return false;
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return true;
}

static bool pread_all(int fd, void *buf, size_t n, off_t off)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = pread(fd, p, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;	/* shorter than it must be */
			return false;
		}
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return true;
}

static void put64(uint8_t *p, uint64_t v)
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

/* Copies n bytes from (in, at) to (out, to); touches the dotlock now and
 * then, since a big rewrite may outlast the 5-minute stale rule. */
static bool copy(int in, off_t at, int out, off_t to, off_t n, char *buf,
    struct lock *lk)
{
	while (n > 0) {
		size_t k = n < UPDATE_BUFFER ? (size_t)n : UPDATE_BUFFER;
		if (!pread_all(in, buf, k, at) || !pwrite_all(out, buf, k, to))
			return false;
		at += (off_t)k;
		to += (off_t)k;
		n -= (off_t)k;
		lock_refresh(lk);
	}
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

/* Is [P+L, S) still the old tail?  (False once it has been truncated.) */
static bool tail_present(int fd, const struct journal *j, off_t size)
{
	uint8_t d[SHA256_BYTES];
	return size >= j->s && tail_digest(fd, j->p + j->l, j->s, d) &&
	    memcmp(d, j->tail, sizeof(d)) == 0;
}

/* Backup bytes of a kept range: the part that lies below P+L. */
static off_t backup_part(const struct journal *j, const struct range *r)
{
	off_t end = j->p + j->l;
	if (r->from >= end)
		return 0;
	return r->len < end - r->from ? r->len : end - r->from;
}

/* ---- the journal file ------------------------------------------------ */

static void encode_head(const struct journal *j, uint8_t *h)
{
	memset(h, 0, HEAD_BYTES);
	memcpy(h, MAGIC, PHASE_AT);
	h[PHASE_AT] = (uint8_t)j->phase;
	uint64_t v[7] = { j->dev, j->ino, (uint64_t)j->p, (uint64_t)j->s,
	    (uint64_t)j->l, j->nseg, (uint64_t)j->blen };
	for (int i = 0; i < 7; i++)
		put64(h + PHASE_AT + 8 + 8 * i, v[i]);
	memcpy(h + PHASE_AT + 8 + 56, j->tail, SHA256_BYTES);
}

/* The journal's digest covers everything but the phase byte. */
static void hash_head(digest_ctx *ctx, const uint8_t *h)
{
	digest_add(ctx, h, PHASE_AT);
	digest_add(ctx, h + PHASE_AT + 1, HEAD_BYTES - PHASE_AT - 1);
}

static bool write_hashed(int fd, digest_ctx *ctx, const void *p, size_t n,
    off_t *at)
{
	digest_add(ctx, p, n);
	if (!pwrite_all(fd, p, n, *at))
		return false;
	*at += (off_t)n;
	return true;
}

/* Writes j (phase COPYING) as the journal of the mailbox `mfd`: a new file,
 * fsync'ed, renamed over any old journal, directory fsync'ed.  On failure
 * nothing of it is left behind (as far as unlink can see to it). */
static bool journal_write(struct journal *j, int mfd, char *buf)
{
	char tmp[96], name[96];
	journal_name(tmp, sizeof(tmp), j->ino, "new");
	journal_name(name, sizeof(name), j->ino, "journal");
	int dfd = state_fd();
	if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
		return false;
	int fd = state_create(tmp);
	if (fd < 0)
		return false;
	j->phase = PHASE_COPYING;
	uint8_t h[HEAD_BYTES], d[SHA256_BYTES];
	encode_head(j, h);
	digest_ctx ctx;
	digest_begin(&ctx);
	hash_head(&ctx, h);
	off_t at = HEAD_BYTES;
	bool ok = pwrite_all(fd, h, HEAD_BYTES, 0);
	for (size_t i = 0; ok && i < j->nseg; i++) {
		uint8_t e[16];
		put64(e, (uint64_t)j->seg[i].from);
		put64(e + 8, (uint64_t)j->seg[i].len);
		ok = write_hashed(fd, &ctx, e, sizeof(e), &at);
	}
	for (size_t i = 0; ok && i < j->nseg; i++) {
		off_t n = backup_part(j, &j->seg[i]), from = j->seg[i].from;
		while (ok && n > 0) {
			size_t k = n < UPDATE_BUFFER ? (size_t)n : UPDATE_BUFFER;
			ok = pread_all(mfd, buf, k, from) &&
			    write_hashed(fd, &ctx, buf, k, &at);
			from += (off_t)k;
			n -= (off_t)k;
		}
	}
	digest_end(&ctx, d);
	ok = ok && pwrite_all(fd, d, sizeof(d), at) && fsync(fd) == 0 &&
	    renameat(dfd, tmp, dfd, name) == 0;
	if (!ok) {
		int e = errno;
		close(fd);
		unlinkat(dfd, tmp, 0);
		errno = e;
		return false;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->backup_at = HEAD_BYTES + 16 * (off_t)j->nseg;
	if (!state_sync())
		return false;	/* the caller decides: see update_commit */
	return true;
}

/* Reads and checks the journal of the mailbox (dev, ino).  1: j is ready;
 * 0: there is none; -1: there is one that cannot be used (logged). */
static int journal_read(struct journal *j, uint64_t dev, uint64_t ino,
    char *buf)
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
	uint8_t h[HEAD_BYTES], d[SHA256_BYTES], want[sizeof(d)];
	struct stat st;
	if (fstat(fd, &st) < 0 || !pread_all(fd, h, HEAD_BYTES, 0) ||
	    memcmp(h, MAGIC, PHASE_AT) != 0)
		goto bad;
	const uint8_t *v = h + PHASE_AT + 8;
	j->phase = (char)h[PHASE_AT];
	j->dev = get64(v);
	j->ino = get64(v + 8);
	j->p = (off_t)get64(v + 16);
	j->s = (off_t)get64(v + 24);
	j->l = (off_t)get64(v + 32);
	j->nseg = (size_t)get64(v + 40);
	j->blen = (off_t)get64(v + 48);
	memcpy(j->tail, v + 56, sizeof(j->tail));
	j->backup_at = HEAD_BYTES + 16 * (off_t)j->nseg;
	if (j->dev != dev)
		log_msg(LOG_WARNING, "UPDATE journal %s/%s: the device number "
		    "changed (remounted?); checking the mailbox's content",
		    state_dir(), name);
	if (j->ino != ino || j->nseg > MAX_MESSAGES_LIMIT + 1 ||
	    (j->phase != PHASE_COPYING && j->phase != PHASE_COPIED) ||
	    j->p < 0 || j->l < 0 || j->s < j->p + j->l || j->blen < 0 ||
	    st.st_size != j->backup_at + j->blen + (off_t)sizeof(d))
		goto bad;
	j->seg = malloc((j->nseg ? j->nseg : 1) * sizeof(*j->seg));
	if (!j->seg)
		goto bad;
	digest_ctx ctx;
	digest_begin(&ctx);
	hash_head(&ctx, h);
	off_t dst = j->p, sum = 0, blen = 0;
	for (size_t i = 0; i < j->nseg; i++) {
		uint8_t e[16];
		if (!pread_all(fd, e, sizeof(e), HEAD_BYTES + 16 * (off_t)i))
			goto bad;
		digest_add(&ctx, e, sizeof(e));
		struct range *r = &j->seg[i];
		r->from = (off_t)get64(e);
		r->len = (off_t)get64(e + 8);
		if (r->from < dst || r->len <= 0 || r->len > j->s - r->from)
			goto bad;
		dst += r->len;
		sum += r->len;
		blen += backup_part(j, r);
	}
	if (sum != j->l || blen != j->blen)
		goto bad;
	for (off_t at = j->backup_at, n = j->blen; n > 0; ) {
		size_t k = n < UPDATE_BUFFER ? (size_t)n : UPDATE_BUFFER;
		if (!pread_all(fd, buf, k, at))
			goto bad;
		digest_add(&ctx, (uint8_t *)buf, k);
		at += (off_t)k;
		n -= (off_t)k;
	}
	digest_end(&ctx, want);
	if (!pread_all(fd, d, sizeof(d), j->backup_at + j->blen) ||
	    memcmp(d, want, sizeof(d)) != 0)
		goto bad;
	return 1;
bad:
	log_msg(LOG_CRIT, "UPDATE journal %s/%s is damaged or does not match "
	    "the mailbox: the mailbox is not served until an admin looks",
	    state_dir(), name);
	return -1;
}

static void journal_free(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->seg);
	j->fd = -1;
	j->seg = NULL;
}

static bool journal_remove(struct journal *j)
{
	char name[96];
	journal_name(name, sizeof(name), j->ino, "journal");
	if (unlinkat(state_fd(), name, 0) < 0)
		return false;
	if (!state_sync())	/* harmless: see the README */
		log_msg(LOG_WARNING, "fsync of %s: %s", state_dir(),
		    strerror(errno));
	return true;
}

/* ---- steps 2 and 3, shared by the commit and the recovery ----------- */

static bool apply(int mfd, const struct journal *j, char *buf,
    struct lock *lk)
{
	off_t dst = j->p, b = j->backup_at;
	for (size_t i = 0; i < j->nseg; i++) {
		const struct range *r = &j->seg[i];
		off_t k = backup_part(j, r);
		if (!copy(j->fd, b, mfd, dst, k, buf, lk) ||
		    !copy(mfd, r->from + k, mfd, dst + k, r->len - k, buf, lk))
			return false;
		b += k;
		dst += r->len;
	}
	return true;
}

static bool run(int mfd, struct journal *j, char *buf, struct lock *lk)
{
	for (;;) {
		struct stat st;
		if (fstat(mfd, &st) < 0)
			return false;
		if (j->phase == PHASE_COPYING) {
			if (!tail_present(mfd, j, st.st_size)) {
				log_msg(LOG_CRIT, "the mailbox no longer matches "
				    "its UPDATE journal in %s", state_dir());
				errno = EUCLEAN;
				return false;
			}
			uint8_t ph = PHASE_COPIED;
			if (!apply(mfd, j, buf, lk) || fsync(mfd) < 0 ||
			    !pwrite_all(j->fd, &ph, 1, PHASE_AT) ||
			    fsync(j->fd) < 0)
				return false;
			j->phase = PHASE_COPIED;
		}
		if (!tail_present(mfd, j, st.st_size)) {
			/* Truncated already; anything beyond P+L was
			 * appended since, by an MDA. */
			return fsync(mfd) == 0 && journal_remove(j);
		}
		if (st.st_size == j->s) {
			return ftruncate(mfd, j->p + j->l) == 0 &&
			    fsync(mfd) == 0 && journal_remove(j);
		}
		/* Mail appended after a crash, beyond the old tail: remove
		 * [P+L, S) with a new plan that keeps [S, size). */
		struct range *seg = realloc(j->seg, sizeof(*seg));
		if (!seg)
			return false;
		j->seg = seg;
		seg[0] = (struct range){ j->s, st.st_size - j->s };
		j->p += j->l;
		j->l = seg[0].len;
		j->s = st.st_size;
		j->nseg = 1;
		j->blen = backup_part(j, &seg[0]);
		if (!tail_digest(mfd, j->p + j->l, j->s, j->tail) ||
		    !journal_write(j, mfd, buf))
			return false;
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
	if (state_fd() < 0)
		return UPD_OK;
	char *buf = malloc(UPDATE_BUFFER);
	if (!buf)
		return UPD_PENDING;
	struct journal j = { .fd = -1 };
	sigset_t old;
	block_signals(&old);
	int r = journal_read(&j, (uint64_t)st->st_dev, (uint64_t)st->st_ino,
	    buf);
	enum upd_status s = UPD_OK;
	if (r != 0) {
		s = UPD_PENDING;
		if (r > 0) {
			log_msg(LOG_NOTICE, "completing an interrupted UPDATE "
			    "(phase %c) from %s", j.phase, state_dir());
			if (run(fd, &j, buf, lk))
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
    off_t from, off_t size, const struct range *keep, size_t n)
{
	off_t l = 0;
	for (size_t i = 0; i < n; i++)
		l += keep[i].len;
	sigset_t old;
	block_signals(&old);
	enum upd_status s = UPD_NOTHING;
	if (l == 0) {
		/* Nothing kept after `from`: one ftruncate, atomic, needs no
		 * journal and costs no copy (deleting everything). */
		if (ftruncate(fd, from) == 0)
			s = fsync(fd) == 0 ? UPD_OK : UPD_UNSURE;
		if (s != UPD_OK)
			log_msg(LOG_ERR, "UPDATE (truncate): %s", strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		return s;
	}
	char *buf = malloc(UPDATE_BUFFER);
	struct journal j = {
		.fd = -1, .dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino,
		.p = from, .s = size, .l = l, .nseg = n,
		.seg = malloc((n ? n : 1) * sizeof(struct range)),
	};
	if (!buf || !j.seg) {
		log_msg(LOG_ERR, "UPDATE: out of memory");
		goto out;
	}
	if (state_fd() < 0) {
		log_msg(LOG_ERR, "UPDATE refused: no state directory for its "
		    "journal (see --state-dir); nothing deleted");
		goto out;
	}
	memcpy(j.seg, keep, n * sizeof(*keep));
	for (size_t i = 0; i < n; i++)
		j.blen += backup_part(&j, &keep[i]);
	if (!tail_digest(fd, from + l, size, j.tail) ||
	    !journal_write(&j, fd, buf)) {
		log_msg(LOG_ERR, "UPDATE: cannot write its journal in %s: %s; "
		    "nothing deleted", state_dir(), strerror(errno));
		if (j.fd >= 0)
			journal_remove(&j);
		goto out;
	}
	/* From here on the journal is durable: the UPDATE will complete. */
	s = UPD_OK;
	if (!run(fd, &j, buf, lk)) {
		/* An fsync error is final: nothing written since the last
		 * good fsync is trusted.  Redo everything once from the
		 * journal (idempotent); else the next start will. */
		log_msg(LOG_ERR, "UPDATE: %s; redoing it from the journal",
		    strerror(errno));
		s = update_recover(fd, st, lk) == UPD_OK ? UPD_OK : UPD_PENDING;
	}
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	journal_free(&j);
	free(buf);
	return s;
}
