/*
 * user.h: the user's session: the state directory, the mailbox, the
 * TRANSACTION and UPDATE states (RFC 1939 sections 5 and 6), as the user
 * and never as root.  Started as root, pop3d runs it in a fresh image, the
 * program pop3d-session (handover.h, usermain.c); started as an ordinary
 * user, in its only process.
 *
 *   user_main()          pop3d-session's main: the record the process
 *                        that became the user left on fd 3, checked, then
 *                        user_state_dir and user_serve; the exit status
 *   user_state_dir(a, plan)  the state directory as planned (state.h).
 *                        false: one exists but cannot be used (it may hold
 *                        an interrupted UPDATE's journal), the login is
 *                        refused.  None at all: no session lock, and only
 *                        UPDATEs that need no journal (update.c); logged
 *   user_refuse(who, peer, for_state)  a session that cannot be served
 *                        after its login (for its state directory, or its
 *                        setup): the client's reply and the log line
 *   user_serve(u)        the mailbox opened and served; the exit status (0
 *                        after a QUIT whose UPDATE succeeded)
 */
#ifndef POP3D_USER_H
#define POP3D_USER_H

#include "auth.h"
#include "session.h"
#include "state.h"
#include "uidl.h"

#include <stdbool.h>

struct user_session {
	const struct account *acct;
	const char *mailbox;	/* expanded */
	enum uidl_mode uidl;
	const char *peer;	/* for the log, as the root parent saw it */
	const char *method;	/* "USER", "PLAIN" or "APOP" */
	const char *tls;	/* tls_describe()'s text, "no" without TLS */
	int failures;		/* failed logins before this one */
	const struct policy *login;	/* the login's, for CAPA */
};

int user_main(void);
bool user_state_dir(const struct account *a, const struct state_plan *p);
void user_refuse(const char *who, const char *peer, bool for_state);
int user_serve(const struct user_session *u);

#endif
