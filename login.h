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

/* The records cross a pipe between processes that do not trust each other,
 * so they are fixed-size and hold no pointer.  Login process -> parent, one
 * per attempt: */
struct login_record {
	int end;		/* END_LOGIN, or how it ended before a login */
	bool tls;		/* TLS is active: the login process will relay */
	char tls_info[TLS_DESCRIPTION_MAX];	/* tls_describe, for the log */
	unsigned long long sent;	/* octets written to the client */
	struct credentials creds;	/* NUL-terminated (END_LOGIN only) */
	size_t pending;		/* input read after the PASS line (pipelined */
	char input[IO_INPUT_BUFFER];	/* commands) */
	size_t queued;		/* replies not sent yet (the greeting, those */
	char output[IO_INPUT_BUFFER];	/* before PASS): the user's process
				 * sends them with its own, so pipelined
				 * replies still leave together */
	char client[ADDR_TEXT];	/* from the PROXY header, numeric; "" if none */
};

/* Parent -> login process, one per END_LOGIN. */
struct verdict {
	bool ok;		/* the login succeeded: hand over the client */
	bool last;		/* (failure) the last attempt: end after reply */
	char reply[128];	/* (failure) the line to send to the client */
};

_Noreturn void login_run(const struct login_config *cfg,
    const struct passwd *pw, int rec_fd, int verdict_fd, int relay_fd);
void login_open(const struct login_config *cfg);
void login_attempt(struct login_record *rec, bool handing_over);
enum session_end login_authorize(const struct policy *p,
    struct credentials *creds);

#endif
