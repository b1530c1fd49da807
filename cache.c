/*
 * cache.c: the index cache file.  See cache.h.
 * Runs in: the user's session.
 *
 * The file's layout is in cache.h.  The header carries what a login and
 * STAT need (the count and the octets), with its own checksum, so that a
 * hit costs the header and a few sampled records; the records are read
 * when a command first needs them (cache_load_rest), and the checksum at
 * the end covers them and the header together.
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
#define CACHE_VERSION	3	/* 2: a CRLF stored is sent as CRLF (sizes,
				   digests); 3: octets in the header */
#define CACHE_ORDER	0x01020304u

#define RECORD	sizeof(struct message)

_Static_assert(sizeof(struct cache_header) == 168 &&
    offsetof(struct cache_header, sum) == 136, "no padding in the header");
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
	digest_begin_small(&d);
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

/* The checksum of the header up to its sum. */
static void header_sum(const struct cache_header *h, uint8_t out[SHA256_BYTES])
{
	digest_ctx d;
	digest_begin_small(&d);
	digest_add(&d, h, offsetof(struct cache_header, sum));
	digest_end(&d, out);
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
 * and checks both there, and that they make the header's octets. */
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
	digest_add(&d, msg, count * RECORD);
	digest_add(&d, h, sizeof(*h));
	digest_end(&d, got);
	if (memcmp(got, sum, sizeof(got)) != 0) {
		*why = "bad checksum";
		return false;
	}
	*why = "a record is inconsistent";
	uint64_t octets = 0;
	for (size_t i = 0; i < count; i++) {
		if (!record_ok(i > 0 ? &msg[i - 1] : NULL, &msg[i], h->scanned))
			return false;
		octets += msg[i].octets;
	}
	return octets == h->octets;
}

/* Record i, from msg when the records are read, else from the file and
 * checked on its own. */
static bool sample(int cfd, const struct cache_header *h,
    const struct message *msg, size_t i, struct message *out)
{
	if (msg) {
		*out = msg[i];
		return true;
	}
	return fdio_pread_all(cfd, out, RECORD, (off_t)(sizeof(*h) + i * RECORD)) &&
	    record_ok(NULL, out, h->scanned);
}

/* Does the mailbox still hold what the header describes: the same file,
 * the same last bytes before `scanned`, and "From " lines at a sample of
 * the indexed message starts?  Checking every start would cost a read per
 * message; any rewrite moves the tail or the samples, and a wrong answer
 * is still prevented by the per-message check of RETR, TOP and UPDATE. */
static bool still_there(int fd, int cfd, const struct cache_header *h,
    const struct message *msg, const char **why)
{
	uint8_t tail[SHA256_BYTES];
	*why = "the indexed part of the mailbox changed";
	if (!tail_sum(fd, (off_t)h->scanned, tail) ||
	    memcmp(tail, h->tail, sizeof(tail)) != 0)
		return false;
	size_t n = (size_t)h->count;
	struct message m;
	for (size_t k = 0; n > 0 && k < CACHE_SAMPLES; k++) {
		size_t i = CACHE_SAMPLES > 1 ? k * (n - 1) / (CACHE_SAMPLES - 1) : 0;
		*why = "a record is inconsistent";
		if (!sample(cfd, h, msg, i, &m))
			return false;
		*why = "the indexed part of the mailbox changed";
		if (!scan_at_boundary(fd, m.start))
			return false;
	}
	return true;
}

enum cache_result cache_load(struct index *ix, int mfd, const struct stat *st,
    const char *dir, struct cache_rest *rest)
{
	char path[PATH_MAX];
	struct cache_header h;
	struct stat cst;
	struct message *msg = NULL;
	uint8_t sum[SHA256_BYTES];
	const char *why = "no cache file";
	enum cache_result res = CACHE_MISS;
	int fd = -1;
	if (rest)
		rest->fd = -1;
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
	why = "bad checksum";
	header_sum(&h, sum);
	if (memcmp(sum, h.sum, sizeof(sum)) != 0)
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
	/* Octets no count of records could make (record_ok's bound). */
	why = "a record is inconsistent";
	if (h.octets > 2 * h.scanned + 2 * h.count)
		goto miss;
	/* With rest, the records wait until a command needs them. */
	bool lazy = rest && (res == CACHE_HIT || h.count > 0);
	if (!lazy) {
		why = "out of memory";
		msg = index_records((size_t)h.count);
		if (!msg || !records_ok(fd, &h, msg, &why))
			goto miss;
	}
	if (!still_there(mfd, fd, &h, msg, &why))
		goto miss;
	if (lazy) {
		/* A grown mailbox: its last message may have grown too and is
		 * scanned again from its start. */
		struct message last = { 0 };
		why = "a record is inconsistent";
		if (res == CACHE_GREW && (!sample(fd, &h, NULL,
		    (size_t)h.count - 1, &last) || last.octets > h.octets))
			goto miss;
		*rest = (struct cache_rest){ .fd = fd, .h = h,
		    .grew = res == CACHE_GREW, .last = last };
		ix->count = (size_t)h.count - rest->grew;
		ix->scanned = rest->grew ? last.start : (off_t)h.scanned;
		return res;
	}
	ix->msg = msg;
	ix->count = ix->alloc = (size_t)h.count;
	ix->scanned = (off_t)h.scanned;
	close(fd);
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

struct message *cache_load_rest(struct cache_rest *rest, size_t room)
{
	struct cache_header h;
	struct message *msg = NULL;
	size_t count = (size_t)rest->h.count;
	const char *why = "the cache file changed after login";
	/* The header is read again: records are only checked against the
	 * header they were written with. */
	if (!fdio_pread_all(rest->fd, &h, sizeof(h), 0) ||
	    memcmp(&h, &rest->h, sizeof(h)) != 0)
		goto bad;
	why = "out of memory";
	msg = index_records(room > count ? room : count);
	if (!msg || !records_ok(rest->fd, &h, msg, &why))
		goto bad;
	why = "the cache file changed after login";
	if (rest->grew && memcmp(&msg[count - 1], &rest->last, RECORD) != 0)
		goto bad;
	cache_rest_drop(rest);
	return msg;
bad:
	log_msg(LOG_DEBUG, "index cache: not used: %s", why);
	free(msg);
	cache_rest_drop(rest);
	return NULL;
}

void cache_rest_drop(struct cache_rest *rest)
{
	if (rest->fd >= 0)
		close(rest->fd);
	rest->fd = -1;
}

/* The records of the walk from the end of the header on, their checksum,
 * then the header (which needs their octets) at the start.  With write()
 * at the file offset, not pwrite(): the fault-injection tests of the
 * UPDATE (tests/update.bats) count the UPDATE's pwrite calls, and a cache
 * written after it is not one of them. */
static bool write_cache(int fd, struct index_walk *w, int mfd,
    const struct stat *st)
{
	struct cache_header h;
	fill_header(&h, w, st);
	if (!tail_sum(mfd, w->scanned, h.tail) ||
	    lseek(fd, (off_t)sizeof(h), SEEK_SET) < 0)
		return false;
	digest_ctx d;
	digest_begin(&d);
	struct message *rec = malloc(CHUNK * RECORD);
	if (!rec)
		return false;
	bool ok = true;
	for (size_t n; ok && (n = index_walk_next(w, rec, CHUNK)) > 0; ) {
		digest_add(&d, rec, n * RECORD);
		for (size_t i = 0; i < n; i++)
			h.octets += rec[i].octets;
		ok = fdio_write_all(fd, rec, n * RECORD);
	}
	free(rec);
	header_sum(&h, h.sum);
	digest_add(&d, &h, sizeof(h));
	uint8_t sum[SHA256_BYTES];
	digest_end(&d, sum);
	return ok && fdio_write_all(fd, sum, sizeof(sum)) &&
	    lseek(fd, 0, SEEK_SET) == 0 && fdio_write_all(fd, &h, sizeof(h));
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
