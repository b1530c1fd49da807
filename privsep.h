/*
 * privsep.h: the root parent's side of the login process (DESIGN,
 * Processes and privileges; login.h has the records between them).  After
 * a login the user's process talks to the client: on the socket itself,
 * or, with TLS, through a socketpair to the login process, the relay.
 * Started as an ordinary user, all of it runs in one process.
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
 *                             relay's pid and privsep_policy(), for
 *                             io_init_relay there
 *   privsep_client()          after privsep_next: the client's address from
 *                             the PROXY header (checked, numeric), or NULL
 *                             (no header, or one that names no client)
 */
#ifndef POP3D_PRIVSEP_H
#define POP3D_PRIVSEP_H

#include "login.h"

bool privsep_start(const struct login_config *cfg);
enum session_end privsep_next(struct credentials *creds);
void privsep_refuse(const char *reply, bool last);
bool privsep_accept(void);
const char *privsep_tls(void);
bool privsep_separated(void);
int privsep_link(pid_t *login, struct policy *p);
const struct policy *privsep_policy(void);
const char *privsep_client(void);

#endif
