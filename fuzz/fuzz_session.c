/*
 * fuzz_session.c: any byte stream as a client, against a generated mailbox.
 * login_authorize() answers AUTHORIZATION; user "alice" gets in with any
 * password or digest (the password check is auth.c's, not the parser's), up
 * to MAX_LOGIN_FAILURES tries as in pop3d.c; then session_transact() runs
 * TRANSACTION and UPDATE on a fresh copy of the mailbox.
 */
#include "harness.h"

#include "../io.h"
#include "../log.h"
#include "../login.h"
#include "../mailbox.h"
#include "../params.h"
#include "../session.h"

#include <stdint.h>

static const char mbox[] =
    "From a@example.org Mon Jan  1 00:00:00 2024\n"
    "Status: RO\nFrom: a@example.org\nSubject: one\n\nhello\n.dot\n..two\n\n"
    "From b@example.org Mon Jan  1 00:00:00 2024\n"
    "From: b@example.org\nX-UID: 7\nSubject: two\n  folded\n\nl1\nl2\nl3\n\n"
    "From a@example.org Mon Jan  1 00:00:00 2024\n"
    "Status: RO\nFrom: a@example.org\nSubject: one\n\nhello\n.dot\n..two\n\n"
    "From c@example.org Mon Jan  1 00:00:00 2024\n"
    "Subject: crlf\r\n\r\nbody\r\n>From here\n\n"
    "From d@example.org Mon Jan  1 00:00:00 2024\n"
    "Subject: no newline at the end\n\nlast";

static const char *path;
static int devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_open(0);
	path = harness_file("session");
	harness_state();
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return devnull < 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	harness_put(path, mbox, sizeof(mbox) - 1);
	int in = harness_memfd(data, size);
	io_init(in, devnull, 1);
	struct policy policy = { .plaintext_ok = true, .apop = true };
	struct credentials creds;
	bool logged_in = false;
	for (int tries = 0; tries < MAX_LOGIN_FAILURES && !logged_in; tries++) {
		if (login_authorize(&policy, &creds) != END_LOGIN)
			break;
		logged_in = strcmp(creds.user, "alice") == 0;
		if (!logged_in)
			io_puts("-ERR [AUTH] authentication failed\r\n");
	}
	if (logged_in) {
		struct mailbox mb;
		struct stats st = { 0 };
		if (mailbox_open(&mb, path, UIDL_OWN) == MB_OK)
			session_transact(&mb, &st, &policy);
		mailbox_close(&mb);
		state_session_unlock();
	}
	io_flush();
	close(in);
	return 0;
}
