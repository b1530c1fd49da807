/*
 * fuzz_mbox.c: any bytes as a mailbox.  Every message is served (RETR, TOP
 * 0, TOP 2, UIDL) and each reply is checked against what the RFCs promise:
 * RETR's "+OK n octets" count is exactly what follows once the dot-stuffing
 * is undone (RFC 1939 section 11), TOP's never exceeds the message's size
 * (its "+OK" line gives no count), every line ends in CRLF, the reply ends
 * in ".CRLF", its text comes from the message's bytes (harness_serve),
 * and the UIDL is 1-70 octets of 0x21-0x7e (section 7).  Then a
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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_open(0);
	path = harness_file("mbox");
	harness_state();
	return 0;
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
	CHECK(mailbox_index(&mb) == MB_OK);
	char id[UIDL_MAX + 1];
	size_t kept = 0;
	for (size_t i = 0; i < mb.ix.count; i++) {
		mailbox_uidl(&mb, i, id);
		size_t len = strlen(id);
		CHECK(len >= 1 && len <= UIDL_MAX);
		for (size_t k = 0; k < len; k++)
			CHECK(id[k] >= 0x21 && id[k] <= 0x7e);
		for (long lines = -1; lines <= 2; lines += lines < 0 ? 1 : 2)
			CHECK(harness_serve(&mb, i, lines, (const char *)data,
			    size) == MB_OK);
		mb.ix.msg[i].deleted = size > 0 && (data[i % size] & 1);
		kept += !mb.ix.msg[i].deleted;
	}
	struct message *before = malloc((mb.ix.count + 1) * sizeof(*before));
	CHECK(before);
	if (mb.ix.count > 0)
		memcpy(before, mb.ix.msg, mb.ix.count * sizeof(*before));
	size_t count = mb.ix.count;
	CHECK(mailbox_update(&mb) == MB_OK);
	CHECK(mb.ix.count == count && (count == 0 ||
	    memcmp(before, mb.ix.msg, count * sizeof(*before)) == 0));
	mailbox_close(&mb);
	state_session_unlock();

	CHECK(mailbox_open(&mb, path, mode) == MB_OK);
	CHECK(mailbox_index(&mb) == MB_OK);
	CHECK(mb.ix.count == kept);
	for (size_t i = 0, k = 0; i < count; i++) {
		if (before[i].deleted)
			continue;
		CHECK(mb.ix.msg[k].octets == before[i].octets);
		CHECK(memcmp(mb.ix.msg[k].digest, before[i].digest,
		    DIGEST_BYTES) == 0);
		k++;
	}
	mailbox_close(&mb);
	state_session_unlock();
	free(before);
	return 0;
}
