/*
 * fuzz_mbox.c: any bytes as a mailbox.  Every message is served (RETR, TOP
 * 0, TOP 2, UIDL) and each reply is checked against what the RFCs promise:
 * RETR's "+OK n octets" count is exactly what follows once the dot-stuffing
 * is undone (RFC 1939 section 11), TOP's never exceeds the message's size
 * (its "+OK" line gives no count), every line ends in CRLF, the reply ends
 * in ".CRLF", and the UIDL is 1-70 octets of 0x21-0x7e (section 7).  Then a
 * simulated UPDATE deletes messages chosen by the input, and a rescan must
 * find exactly the kept messages, with the same sizes and digests.
 */
#include "harness.h"

#include "../io.h"
#include "../log.h"
#include "../mailbox.h"
#include "../params.h"

#include <stdint.h>

static const char *path;
static int out;		/* a memfd that collects the replies */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_open(0);
	path = harness_file("mbox");
	harness_state();
	out = memfd_create("pop3d-fuzz-out", MFD_CLOEXEC);
	return out < 0;
}

#define CHECK(x) do { if (!(x)) { fprintf(stderr, "check failed: %s\n", #x); \
	abort(); } } while (0)

/* Sends message i and checks the reply; lines as for mailbox_send. */
static void serve(struct mailbox *mb, size_t i, long lines)
{
	if (ftruncate(out, 0) < 0 || lseek(out, 0, SEEK_SET) != 0)
		abort();
	io_init(-1, out, 1);
	enum mb_status st = mailbox_send(mb, i, lines);
	CHECK(st == MB_OK);
	io_flush();
	off_t n = lseek(out, 0, SEEK_END);
	char *r = malloc((size_t)n + 1);
	CHECK(r && pread(out, r, (size_t)n, 0) == n);
	r[n] = '\0';
	unsigned long long octets = mb->msg[i].octets;
	char *crlf = strstr(r, "\r\n");
	if (lines < 0)
		CHECK(crlf && sscanf(r, "+OK %llu octets", &octets) == 1);
	else
		CHECK(crlf && strncmp(r, "+OK top of message follows\r\n",
		    (size_t)(crlf + 2 - r)) == 0);
	off_t head = crlf + 2 - r;
	CHECK(n >= head + 3 && memcmp(r + n - 3, ".\r\n", 3) == 0);
	CHECK(n == head + 3 || (r[n - 5] == '\r' && r[n - 4] == '\n'));
	/* Walk the lines between the first line and the final ".". */
	unsigned long long got = 0;
	for (off_t p = head; p < n - 3; ) {
		char *lf = memchr(r + p, '\n', (size_t)(n - 3 - p));
		CHECK(lf && lf > r + p && lf[-1] == '\r');
		size_t len = (size_t)(lf + 1 - (r + p));
		if (r[p] == '.') {
			CHECK(len > 3 && r[p + 1] == '.');	/* stuffed */
			len--;
		}
		got += len;
		p = lf + 1 - r;
	}
	if (got != octets && lines < 0)
		fprintf(stderr, "message %zu: sent %llu octets, said %llu\n",
		    i + 1, got, octets);
	if (lines < 0)
		CHECK(got == octets && octets == mb->msg[i].octets);
	else
		CHECK(got <= octets);
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	harness_put(path, data, size);
	/* The first byte picks the UIDL scheme (--uidl). */
	enum uidl_mode mode = size > 0 ? (enum uidl_mode)(data[0] % 5) : UIDL_OWN;
	struct mailbox mb;
	if (mailbox_open(&mb, path, mode) != MB_OK) {
		mailbox_close(&mb);
		state_session_unlock();
		return 0;
	}
	char id[UIDL_MAX + 1];
	size_t kept = 0;
	for (size_t i = 0; i < mb.count; i++) {
		mailbox_uidl(&mb, i, id);
		size_t len = strlen(id);
		CHECK(len >= 1 && len <= UIDL_MAX);
		for (size_t k = 0; k < len; k++)
			CHECK(id[k] >= 0x21 && id[k] <= 0x7e);
		serve(&mb, i, -1);
		serve(&mb, i, 0);
		serve(&mb, i, 2);
		mb.msg[i].deleted = size > 0 && (data[i % size] & 1);
		kept += !mb.msg[i].deleted;
	}
	struct message *before = malloc((mb.count + 1) * sizeof(*before));
	CHECK(before);
	if (mb.count > 0)
		memcpy(before, mb.msg, mb.count * sizeof(*before));
	size_t count = mb.count;
	CHECK(mailbox_update(&mb) == MB_OK);
	mailbox_close(&mb);
	state_session_unlock();

	CHECK(mailbox_open(&mb, path, mode) == MB_OK);
	CHECK(mb.count == kept);
	for (size_t i = 0, k = 0; i < count; i++) {
		if (before[i].deleted)
			continue;
		CHECK(mb.msg[k].octets == before[i].octets);
		CHECK(memcmp(mb.msg[k].digest, before[i].digest,
		    DIGEST_BYTES) == 0);
		k++;
	}
	mailbox_close(&mb);
	state_session_unlock();
	free(before);
	return 0;
}
