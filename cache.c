/*
 * cache.c: the index cache file.  See cache.h.
 * Runs in: the user's session.
 *
 * The file: a header, one struct message per message (index.h: no
 * padding, `deleted` 0), and the SHA-256 of both.  Fields are in the
 * writer's byte order (the header says which); a cache from another
 * architecture, version or record layout is simply a miss.
 *
 * The file is untrusted input: its owner can write anything into it, at
 * any time, a session's own included.  So it is read once into this
 * process's memory (never mapped: a write to the file shows through a
 * mapping's untouched pages) and every check is made on that copy, which
 * is then the index: no byte of the file is looked at after it was
 * checked.  A record is checked on its own and against the one before it
 * (record_ok), so that records could also be read and checked a chunk at
 * a time when they are first needed.  What the checks cannot show (that
 * the offsets are those of this mailbox's messages) mailbox_send checks
 * for every message it serves, before its first byte.
 */
#include "cache.h"
#include "digest.h"
#include "fdio.h"
#include "log.h"
#include "netfs.h"
#include "params.h"
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CACHE_MAGIC	"pop3dIX\n"
#define CACHE_VERSION	2	/* 2: a CRLF stored is sent as CRLF (sizes, digests) */
#define CACHE_ORDER	0x01020304u

struct cache_header {
	char magic[8];
	uint32_t version, order, header_size, record_size;
	uint64_t dev, ino, size;	/* the mailbox as scanned */
	int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	uint64_t scanned, count;
	uint8_t tail[SHA256_BYTES];	/* of the CACHE_TAIL bytes before scanned */
};

#define RECORD	sizeof(struct message)

_Static_assert(sizeof(struct cache_header) == 128, "no padding in the header");
_Static_assert(sizeof(struct message) == 56 &&
    offsetof(struct message, digest) == 32 &&
    offsetof(struct message, deleted) == 52, "no padding in a record");

/* Records are converted through a buffer of this many. */
#define CHUNK	1024

static bool cache_path(char *out, const char *dir, const char *suffix)
{
	int n = snprintf(out, PATH_MAX, "%s/" CACHE_FILE "%s", dir, suffix);
	return n > 0 && n < PATH_MAX;
}

/* The SHA-256 of the mailbox's last CACHE_TAIL bytes before `end`. */
static bool tail_sum(int fd, off_t end, uint8_t out[SHA256_BYTES])
{
	char buf[CACHE_TAIL];
	size_t n = end < CACHE_TAIL ? (size_t)end : CACHE_TAIL;
	digest_ctx d;
	if (!fdio_pread_all(fd, buf, n, end - (off_t)n))
		return false;
	digest_begin(&d);
	digest_add(&d, buf, n);
	digest_end(&d, out);
	return true;
}

static void fill_header(struct cache_header *h, const struct index_walk *w,
    const struct stat *st)
{
	*h = (struct cache_header){
		.version = CACHE_VERSION, .order = CACHE_ORDER,
		.header_size = sizeof(*h),
		.record_size = RECORD,
		.dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino,
		.size = (uint64_t)st->st_size,
		.mtime_sec = st->st_mtim.tv_sec,
		.mtime_nsec = st->st_mtim.tv_nsec,
		.ctime_sec = st->st_ctim.tv_sec,
		.ctime_nsec = st->st_ctim.tv_nsec,
		.scanned = (uint64_t)w->scanned, .count = w->count,
	};
	memcpy(h->magic, CACHE_MAGIC, sizeof(h->magic));
}

/* Could record r follow prev (NULL for the first) in the index of a
 * mailbox of `scanned` bytes, as scan.c makes it: inside the file, in
 * order, the From_ line before the headers, one blank line (1 or 2 bytes)
 * between a message's end and the next start, and no more octets than
 * every byte sent as CRLF gives.  The order of the tests keeps every
 * difference in range. */
static bool record_ok(const struct message *prev, const struct message *r,
    uint64_t scanned)
{
	if (!(0 <= r->start && r->start < r->data && r->data <= r->end &&
	    (uint64_t)r->end <= scanned))
		return false;
	if (prev && (r->start - prev->end < 1 || r->start - prev->end > 2))
		return false;
	return r->occurrence >= 1 && r->deleted == 0 &&
	    r->octets <= 2 * (uint64_t)(r->end - r->data) + 2;
}

/* Reads the records and the checksum after them into msg (private memory)
 * and checks both there. */
static bool records_ok(int fd, const struct cache_header *h,
    struct message *msg, const char **why)
{
	size_t count = (size_t)h->count;
	uint8_t got[SHA256_BYTES], sum[SHA256_BYTES];
	*why = "truncated or not a cache";
	if (!fdio_pread_all(fd, msg, count * RECORD, sizeof(*h)) ||
	    !fdio_pread_all(fd, sum, sizeof(sum), (off_t)(sizeof(*h) + count * RECORD)))
		return false;
	digest_ctx d;
	digest_begin(&d);
	digest_add(&d, h, sizeof(*h));
	digest_add(&d, msg, count * RECORD);
	digest_end(&d, got);
	if (memcmp(got, sum, sizeof(got)) != 0) {
		*why = "bad checksum";
		return false;
	}
	*why = "a record is inconsistent";
	for (size_t i = 0; i < count; i++)
		if (!record_ok(i > 0 ? &msg[i - 1] : NULL, &msg[i], h->scanned))
			return false;
	return true;
}

/* Does the mailbox still hold what the header describes: the same file,
 * the same last bytes before `scanned`, and "From " lines at a sample of
 * the indexed message starts?  Checking every start would cost a read per
 * message; any rewrite moves the tail or the samples, and a wrong answer
 * is still prevented by the per-message check of RETR, TOP and UPDATE. */
static bool still_there(int fd, const struct cache_header *h,
    const struct message *msg)
{
	uint8_t tail[SHA256_BYTES];
	if (!tail_sum(fd, (off_t)h->scanned, tail) ||
	    memcmp(tail, h->tail, sizeof(tail)) != 0)
		return false;
	size_t n = (size_t)h->count;
	for (size_t k = 0; n > 0 && k < CACHE_SAMPLES; k++) {
		size_t i = CACHE_SAMPLES > 1 ? k * (n - 1) / (CACHE_SAMPLES - 1) : 0;
		if (!scan_at_boundary(fd, msg[i].start))
			return false;
	}
	return true;
}

enum cache_result cache_load(struct index *ix, int mfd, const struct stat *st,
    const char *dir)
{
	char path[PATH_MAX];
	struct cache_header h;
	struct stat cst;
	struct message *msg = NULL;
	const char *why = "no cache file";
	enum cache_result res = CACHE_MISS;
	int fd = -1;
	if (!cache_path(path, dir, ""))
		goto miss;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		goto miss;
	why = "not a regular file of the user's";
	/* Another host may have replaced it last (netfs.h). */
	if (!netfs_flush(fd) || fstat(fd, &cst) < 0 || !S_ISREG(cst.st_mode) ||
	    cst.st_uid != geteuid())
		goto miss;
	why = "truncated or not a cache";
	if (!fdio_pread_all(fd, &h, sizeof(h), 0) ||
	    memcmp(h.magic, CACHE_MAGIC, sizeof(h.magic)) != 0 ||
	    h.version != CACHE_VERSION || h.order != CACHE_ORDER ||
	    h.header_size != sizeof(h) || h.record_size != RECORD ||
	    h.count > MAX_MESSAGES_LIMIT ||
	    (uint64_t)cst.st_size != sizeof(h) + h.count * RECORD +
	    SHA256_BYTES)
		goto miss;
	why = "another mailbox";
	if (h.dev != (uint64_t)st->st_dev || h.ino != (uint64_t)st->st_ino)
		goto miss;
	why = "the mailbox changed";
	if (h.scanned != h.size || h.size > (uint64_t)st->st_size)
		goto miss;
	if (h.size == (uint64_t)st->st_size) {
		if (h.mtime_sec != st->st_mtim.tv_sec ||
		    h.mtime_nsec != st->st_mtim.tv_nsec ||
		    h.ctime_sec != st->st_ctim.tv_sec ||
		    h.ctime_nsec != st->st_ctim.tv_nsec)
			goto miss;
		res = CACHE_HIT;
	} else {
		res = CACHE_GREW;
	}
	why = "out of memory";
	msg = index_records((size_t)h.count);
	if (!msg || !records_ok(fd, &h, msg, &why))
		goto miss;
	why = "the indexed part of the mailbox changed";
	if (!still_there(mfd, &h, msg))
		goto miss;
	close(fd);
	ix->msg = msg;
	ix->count = ix->alloc = (size_t)h.count;
	ix->scanned = (off_t)h.scanned;
	if (res == CACHE_GREW) {
		/* The last message may have grown too: scan it again. */
		ix->scanned = 0;
		if (ix->count > 0)
			ix->scanned = ix->msg[--ix->count].start;
	}
	return res;
miss:
	log_msg(LOG_DEBUG, "index cache: not used: %s", why);
	free(msg);
	if (fd >= 0)
		close(fd);
	return CACHE_MISS;
}

static bool write_cache(int fd, struct index_walk *w, int mfd,
    const struct stat *st)
{
	struct cache_header h;
	fill_header(&h, w, st);
	if (!tail_sum(mfd, w->scanned, h.tail) ||
	    !fdio_write_all(fd, &h, sizeof(h)))
		return false;
	digest_ctx d;
	digest_begin(&d);
	digest_add(&d, &h, sizeof(h));
	struct message *rec = malloc(CHUNK * RECORD);
	if (!rec)
		return false;
	bool ok = true;
	for (size_t n; ok && (n = index_walk_next(w, rec, CHUNK)) > 0; ) {
		digest_add(&d, rec, n * RECORD);
		ok = fdio_write_all(fd, rec, n * RECORD);
	}
	free(rec);
	uint8_t sum[SHA256_BYTES];
	digest_end(&d, sum);
	return ok && fdio_write_all(fd, sum, sizeof(sum));
}

void cache_store(struct index_walk *w, int mfd, const struct stat *st,
    const char *dir)
{
	char tmp[PATH_MAX], path[PATH_MAX], suffix[32];
	snprintf(suffix, sizeof(suffix), ".%ld.tmp", (long)getpid());
	if (!cache_path(tmp, dir, suffix) || !cache_path(path, dir, ""))
		return;
	/* A stale temp file of a dead session with our pid is removed; a
	 * symlink planted there is removed, never followed. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0) {
		log_msg(LOG_DEBUG, "index cache: cannot create %s: %s", tmp,
		    strerror(errno));
		return;
	}
	/* No fsync: a cache lost in a crash is rebuilt, and a torn one fails
	 * its length or checksum. */
	bool ok = write_cache(fd, w, mfd, st);
	int e = errno;
	if (close(fd) < 0 && ok) {
		ok = false;
		e = errno;
	}
	if (ok && rename(tmp, path) < 0) {
		ok = false;
		e = errno;
	}
	if (!ok) {
		log_msg(LOG_DEBUG, "index cache: cannot write %s: %s", path,
		    strerror(e));
		unlink(tmp);
	}
}

const char *cache_result_name(enum cache_result r)
{
	switch (r) {
	case CACHE_OFF: return "off";
	case CACHE_MISS: return "miss";
	case CACHE_HIT: return "hit";
	case CACHE_GREW: return "grew";
	}
	return "?";
}
