/*
 * fuzz_cache.c: any bytes as the index cache of a mailbox (cache.h says
 * the cache is untrusted input).  The input holds a mailbox and records;
 * the harness writes them as a cache that matches the mailbox's identity,
 * last bytes and checksum (so that the records themselves are what meets
 * the checks), then serves every message: LIST's octets, UIDL, RETR, TOP 0
 * and TOP 2.  Nothing may crash, read outside its buffers or hang; a reply
 * is refused before its first byte, cut short, or whole and exact, and
 * its text comes only from the message's place in the mailbox
 * (harness_serve).
 *
 * Input: a flags byte, the mailbox's length (2 bytes, little-endian), the
 * mailbox, then the records part.  Flags bit 0: the records part is raw
 * records (cache.c's layout, 56 bytes each); else it patches the records
 * of a real scan, 10 bytes a patch (record, field, 8-byte value).  Bit 1:
 * mail is appended after the cache was written (the cache of a mailbox
 * that grew).  Bit 2: the header's octets are one more than the records'
 * (a header that lies about them, with a good checksum).
 */
#include "harness.h"

#include "../digest.h"

#include "../cache.h"

static const char *path;
static char cache[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	path = harness_mailbox("cache", cache);
	return 0;
}

/* The cache file (cache.h's layout): a header that matches the mailbox as
 * it is, with the records' octets (plus `lie`) and its checksum, the n
 * records, the checksum of the records and the header. */
static void put_cache(const struct message *rec, size_t n, const char *mbox,
    size_t size, uint64_t lie)
{
	struct stat st;
	CHECK(stat(path, &st) == 0);
	struct cache_header h = {
		.magic = "pop3dIX\n", .version = 3, .order = 0x01020304u,
		.header_size = sizeof(h), .record_size = sizeof(*rec),
		.dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino,
		.size = size, .scanned = size, .count = n,
		.mtime_sec = st.st_mtim.tv_sec, .mtime_nsec = st.st_mtim.tv_nsec,
		.ctime_sec = st.st_ctim.tv_sec, .ctime_nsec = st.st_ctim.tv_nsec,
	};
	size_t t = size < CACHE_TAIL ? size : CACHE_TAIL;
	digest_ctx d;
	digest_begin(&d);
	digest_add(&d, mbox + size - t, t);
	digest_end(&d, h.tail);
	h.octets = lie;
	for (size_t i = 0; i < n; i++)
		h.octets += rec[i].octets;
	digest_begin(&d);
	digest_add(&d, &h, offsetof(struct cache_header, sum));
	digest_end(&d, h.sum);
	uint8_t sum[SHA256_BYTES];
	digest_begin(&d);
	digest_add(&d, rec, n * sizeof(*rec));
	digest_add(&d, &h, sizeof(h));
	digest_end(&d, sum);
	FILE *f = fopen(cache, "w");
	CHECK(f && fwrite(&h, sizeof(h), 1, f) == 1 &&
	    (n == 0 || fwrite(rec, sizeof(*rec), n, f) == n) &&
	    fwrite(sum, sizeof(sum), 1, f) == 1 && fclose(f) == 0);
}

/* The records of a real scan (a mode that stores no cache), patched. */
static size_t patched(struct message **rec, const uint8_t *p, size_t n)
{
	struct mailbox mb;
	enum mb_status st = mailbox_open(&mb, path, UIDL_XUIDL);
	size_t count = st == MB_OK ? mb.ix.count : 0;
	*rec = calloc(count + 1, sizeof(**rec));
	CHECK(*rec);
	if (count > 0)
		memcpy(*rec, mb.ix.msg, count * sizeof(**rec));
	mailbox_close(&mb);
	state_session_unlock();
	for (size_t k = 0; count > 0 && k + 10 <= n; k += 10) {
		struct message *m = &(*rec)[p[k] % count];
		uint64_t v;
		memcpy(&v, p + k + 2, sizeof(v));
		switch (p[k + 1] % 6) {
		case 0: m->start = (off_t)v; break;
		case 1: m->data = (off_t)v; break;
		case 2: m->end = (off_t)v; break;
		case 3: m->octets = v; break;
		case 4: m->occurrence = (uint32_t)v; break;
		case 5: m->start += (int8_t)v; m->data += (int8_t)(v >> 8);
			m->end += (int8_t)(v >> 16); break;
		}
		m->deleted = 0;
	}
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness_parts in;
	if (!harness_split(data, size, &in))
		return 0;
	unsigned flags = in.flags;
	size_t len = in.a_len;
	const char *mbox = in.a;
	const uint8_t *rest = (const uint8_t *)in.b;
	size_t rest_len = in.b_len;
	harness_put(path, mbox, len);
	struct message *rec;
	size_t n;
	if (flags & 1) {
		n = rest_len / sizeof(*rec);
		rec = calloc(n + 1, sizeof(*rec));
		CHECK(rec);
		if (n > 0)
			memcpy(rec, rest, n * sizeof(*rec));
	} else {
		n = patched(&rec, rest, rest_len);
	}
	put_cache(rec, n, mbox, len, (flags & 4) != 0);
	free(rec);
	char *now = malloc(len + 64);
	CHECK(now);
	memcpy(now, mbox, len);
	size_t now_len = len;
	if (flags & 2) {
		static const char more[] = "\n\nFrom x\nSubject: new\n\nnew\n";
		memcpy(now + len, more, sizeof(more) - 1);
		now_len += sizeof(more) - 1;
		int fd = open(path, O_WRONLY | O_APPEND);
		CHECK(fd >= 0 && write(fd, more, sizeof(more) - 1) ==
		    (ssize_t)(sizeof(more) - 1) && close(fd) == 0);
	}
	struct mailbox mb;
	if (mailbox_open(&mb, path, UIDL_OWN) == MB_OK &&
	    mailbox_index(&mb) == MB_OK) {
		char id[UIDL_MAX + 1];
		for (size_t i = 0; i < mb.ix.count; i++) {
			mailbox_uidl(&mb, i, id);
			size_t k = strlen(id);
			CHECK(k >= 1 && k <= UIDL_MAX);
			for (long lines = -1; lines <= 2; lines += lines < 0 ? 1 : 2)
				harness_serve(&mb, i, lines, now, now_len);
		}
	}
	mailbox_close(&mb);
	state_session_unlock();
	unlink(cache);
	free(now);
	return 0;
}
