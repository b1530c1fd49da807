/*
 * login.h: the login process (DESIGN, Processes and privileges; privsep.h
 * has the root parent's side).
 *
 *   login_run(cfg, pw, fds)  the forked child, for good: chroot to
 *       cfg->login_chroot as pw (no core files, no new processes), then
 *       login_open and login_attempt, a record up and a verdict down for
 *       each; returns never
 *   login_open(cfg)          the session's start: the PROXY header (when
 *       cfg->proxy: a missing or bad one ends the session there, before
 *       the greeting, END_PROXY_REFUSED; a LOCAL one, a balancer's health
 *       check, END_PROXY_LOCAL), the implicit TLS handshake, the greeting.
 *       Without privilege separation the only process calls it and
 *       login_attempt
 *   login_attempt(rec, handing_over)  AUTHORIZATION until credentials or
 *       the end (STLS is done here); rec says what happened.
 *       handing_over: the pipelined input and the queued replies move
 *       into rec, for the process that serves the user
 *   login_authorize(p, creds)  one run of the AUTHORIZATION state's command
 *       table (the session fuzzer calls it)
 *
 * The records cross a pipe between processes that do not trust each other,
 * so they are fixed-size and hold no pointer:
 *   login process -> parent (struct login_record), one per attempt:
 *       end      END_LOGIN, or how the session ended before a login
 *       tls      TLS is active, so the login process will stay as relay
 *       tls_info its protocol and cipher for the log (tls_describe), a
 *                bounded printable string
 *       sent     octets the login process has written to the client
 *       creds    user and password, NUL-terminated (END_LOGIN only)
 *       pending  count of the input bytes read after the PASS line, and
 *       input    those bytes (pipelined commands), at most IO_INPUT_BUFFER
 *       queued, output  replies not sent yet (the greeting and those before
 *                PASS), at most as much: the user's process sends them
 *                with its own, so pipelined replies still leave together
 *       client   the client's address from the PROXY header, numeric and
 *                NUL-terminated, or empty (no header, or it names none)
 *   parent -> login process (struct verdict), one per END_LOGIN:
 *       ok       the login succeeded: hand over the client
 *       last     (failure) this was the last attempt: end after the reply
 *       reply    (failure) the line to send to the client
 */
#ifndef POP3D_LOGIN_H
#define POP3D_LOGIN_H

#include "addr.h"
#include "io.h"
#include "session.h"
#include "tls.h"

#include <pwd.h>
#include <time.h>

struct login_config {
	struct policy policy;	/* before TLS */
	enum tls_mode tls;
	const char *greeting;	/* the first line, CRLF included */
	int timeout;		/* idle timeout (and of the relay) */
	int login_timeout;	/* the most time from the start to a login, TLS
				 * handshakes included; 0 or more: timeout */
	const char *login_user;
	const char *login_chroot;
	bool proxy;		/* a PROXY header comes first (--proxy-trusted) */
	bool plaintext_secure;	/* --plaintext=secure: behind a balancer,
				 * plaintext_ok also needs a loopback client */
	const char *peer;	/* the connection's peer, for the log */
	struct timespec deadline;	/* (privsep_start) of AUTHORIZATION */
};

struct login_record {
	int end;		/* enum session_end */
	bool tls;
	char tls_info[TLS_DESCRIPTION_MAX];
	unsigned long long sent;
	struct credentials creds;
	size_t pending;
	char input[IO_INPUT_BUFFER];
	size_t queued;
	char output[IO_INPUT_BUFFER];
	char client[ADDR_TEXT];
};

struct verdict {
	bool ok, last;
	char reply[128];
};

_Noreturn void login_run(const struct login_config *cfg,
    const struct passwd *pw, int rec_fd, int verdict_fd, int relay_fd);
void login_open(const struct login_config *cfg);
void login_attempt(struct login_record *rec, bool handing_over);
enum session_end login_authorize(const struct policy *p,
    struct credentials *creds);

#endif
