/*
 * privsep.h: the AUTHORIZATION state in a process of its own (popa3d's
 * model), and TLS around it.
 *
 * Started as root, pop3d forks a login process that chroots to an empty
 * directory and becomes an unprivileged account before it reads a byte from
 * the client; it runs the TLS handshake (if any) and the AUTHORIZATION state
 * and hands only a fixed-size login record to the root parent over a pipe.
 * The parent authenticates and answers over a second pipe; after a success
 * the user's process talks to the client: on the socket itself, or, with
 * TLS, through a socketpair to the login process, which stays as the TLS
 * relay.  Started as an ordinary user, all of it runs in one process.
 *
 *   privsep_start(cfg)        the login process, the greeting; false if it
 *                             cannot be set up (logged)
 *   privsep_next(creds)       END_LOGIN with credentials, or how the session
 *                             ended before login
 *   privsep_refuse(reply, last)  a failed login's reply; last: end there
 *   privsep_accept()          the login succeeded: io now talks to the
 *                             client (pipelined input kept), and io_sent()
 *                             counts what the login process sent; false on
 *                             failure
 *   privsep_tls()             the TLS of the last login record, as
 *                             tls_describe() says it ("no" without TLS)
 *   privsep_separated()       the login process exists (started as root)
 *   privsep_policy()          after privsep_accept: the policy the login
 *                             ended with, for CAPA in TRANSACTION
 *   privsep_link(&pid, &p)    after privsep_accept, for a user's process
 *                             that executes a fresh pop3d (handover.h): the
 *                             TLS relay's socketpair (-1 without TLS), the
 *                             relay's pid and privsep_policy()
 *   privsep_resume(relay, pid, timeout)  in that fresh pop3d: io on the
 *                             relay (or fds 0/1), and the relay told of the
 *                             end at exit, as privsep_accept does
 *   privsep_client()          after privsep_next: the client's address from
 *                             the PROXY header (checked, numeric), or NULL
 *                             (no header, or one that names no client)
 *
 * With cfg.proxy (the peer is in --proxy-trusted) the login process reads
 * the PROXY header first, before the TLS handshake and the greeting; a
 * missing or bad one ends the session there (END_PROXY_REFUSED, the reason
 * logged), a LOCAL one too (END_PROXY_LOCAL, a health check).  The client's
 * address reaches the parent in every login record.
 */
#ifndef POP3D_PRIVSEP_H
#define POP3D_PRIVSEP_H

#include "session.h"
#include "tls.h"

struct privsep_config {
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
};

bool privsep_start(const struct privsep_config *cfg);
enum session_end privsep_next(struct credentials *creds);
void privsep_refuse(const char *reply, bool last);
bool privsep_accept(void);
const char *privsep_tls(void);
bool privsep_separated(void);
int privsep_link(pid_t *login, struct policy *p);
const struct policy *privsep_policy(void);
void privsep_resume(int relay, pid_t login, int timeout);
const char *privsep_client(void);

#endif
