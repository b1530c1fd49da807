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
 */
#ifndef POP3D_PRIVSEP_H
#define POP3D_PRIVSEP_H

#include "session.h"
#include "tls.h"

struct privsep_config {
	struct policy policy;	/* before TLS */
	enum tls_mode tls;
	const char *greeting;	/* the first line, CRLF included */
	int timeout;		/* idle timeout after login (and of the relay) */
	int login_timeout;	/* before login and for the handshake; 0: timeout */
	const char *login_user;
	const char *login_chroot;
};

bool privsep_start(const struct privsep_config *cfg);
enum session_end privsep_next(struct credentials *creds);
void privsep_refuse(const char *reply, bool last);
bool privsep_accept(void);
const char *privsep_tls(void);

#endif
