/*
 * fuzz_change.c: the mailbox changes between the scan and RETR.  A mailbox
 * is scanned, then another program rewrites the file in place (same
 * inode) with other bytes, and every message of the old index is served:
 * RETR, TOP 0 and TOP 2.  Nothing may crash, read outside its buffers or
 * hang; each reply is refused before its first byte, cut short, or whole
 * and exact, and its text comes only from the message's place in the file
 * as it now is (harness_serve).
 *
 * Input: a flags byte, the first mailbox's length (2 bytes, little-
 * endian), the first mailbox, then the new content.  Flags: the UIDL
 * scheme (bits 0-2, as --uidl); bit 3: the new content is written over
 * the old one without changing the size (when that happens within one
 * tick of the file system's clock, even size, mtime and ctime stay the
 * same, and only the checks of mailbox_send are left to notice).
 */
#include "harness.h"

static const char *path;
static char cache[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	path = harness_mailbox("change", cache);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness_parts in;
	if (!harness_split(data, size, &in))
		return 0;
	unsigned flags = in.flags;
	const char *old = in.a, *new = in.b;
	size_t len = in.a_len, new_len = in.b_len;
	harness_put(path, old, len);
	unlink(cache);
	struct mailbox mb;
	if (mailbox_open(&mb, path, (enum uidl_mode)(flags % 5)) != MB_OK) {
		mailbox_close(&mb);
		state_session_unlock();
		return 0;
	}
	/* What the file holds now. */
	char *now = malloc(len + new_len + 1);
	CHECK(now);
	size_t now_len;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	if (flags & 8) {
		now_len = len;
		size_t k = new_len < len ? new_len : len;
		memcpy(now, new, k);
		memcpy(now + k, old + k, len - k);
		CHECK(k == 0 || pwrite(fd, new, k, 0) == (ssize_t)k);
	} else {
		now_len = new_len;
		memcpy(now, new, new_len);
		CHECK(ftruncate(fd, 0) == 0 && (new_len == 0 ||
		    pwrite(fd, new, new_len, 0) == (ssize_t)new_len));
	}
	close(fd);
	for (size_t i = 0; i < mb.ix.count; i++)
		for (long lines = -1; lines <= 2; lines += lines < 0 ? 1 : 2)
			harness_serve(&mb, i, lines, now, now_len);
	mailbox_close(&mb);
	state_session_unlock();
	unlink(cache);
	free(now);
	return 0;
}
