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
 *                             client (pipelined input kept); false on failure
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
};

bool privsep_start(const struct privsep_config *cfg);
enum session_end privsep_next(struct credentials *creds);
void privsep_refuse(const char *reply, bool last);
bool privsep_accept(void);

#endif
