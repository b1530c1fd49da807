/*
 * session.h: the POP3 state machine (RFC 1939, RFC 2449).
 *
 *   session_authorize(policy, creds)  the AUTHORIZATION state: answers
 *       commands until the client has named a user and given a password
 *       by USER/PASS, AUTH PLAIN or APOP (END_LOGIN, creds filled in; the
 *       caller authenticates and replies) or leaves, or asks for TLS
 *       (END_STARTTLS).  Touches no mailbox; runs unprivileged when pop3d
 *       was started as root.  A first command line that is a PROXY
 *       protocol header ends it (END_PROXY_MISPLACED): the header of a
 *       trusted balancer was read before the greeting (privsep.c).
 *   session_transact(mb, stats, login)  the TRANSACTION state as the user,
 *       and the UPDATE state on QUIT; login: the policy the login ended
 *       with (CAPA lists its capabilities).
 * Both return how the session (or the state) ended.
 *   session_reply_status(st, at)  the -ERR line for a mailbox status, by
 *       where it came (opening the mailbox, sending a message, UPDATE):
 *       the one table of them.
 */
#ifndef POP3D_SESSION_H
#define POP3D_SESSION_H

#include "mailbox.h"
#include "params.h"

#include <stdbool.h>

/* What the AUTHORIZATION state offers; the caller updates it between calls
 * (after STLS: stls off, plaintext_ok on). */
struct policy {
	bool plaintext_ok;	/* USER/PASS and AUTH PLAIN accepted here */
	bool stls;		/* STLS offered: configured and TLS not active */
	bool apop;		/* APOP accepted (--apop) */
};

struct credentials {
	char method[8];		/* "USER", "PLAIN" or "APOP"; a string, not a
				 * pointer: it crosses the privsep pipe */
	char user[MAX_USER + 1];
	char pass[MAX_PASS + 1];	/* the password, or APOP's digest */
};

struct stats {
	unsigned long retrieved;
	unsigned long long retrieved_bytes;
	unsigned long deleted;
	unsigned long top;	/* TOP commands answered +OK */
};

enum session_end {
	END_LOGIN,		/* credentials are ready */
	END_STARTTLS,		/* STLS was accepted: the caller flushes, drops
				 * unread input, runs the TLS handshake and
				 * calls session_authorize again */
	END_TLS_FAILED,		/* (for the caller) the handshake failed */
	END_QUIT,		/* QUIT, and UPDATE if in TRANSACTION, succeeded */
	END_UPDATE_FAILED,	/* QUIT, but the UPDATE removed nothing */
	END_EOF,
	END_TIMEOUT,
	END_ERRORS,		/* too many bad commands */
	END_IOERR,
	END_PROXY_REFUSED,	/* (privsep.c) the PROXY header a trusted peer
				 * must send is missing or bad: no greeting */
	END_PROXY_LOCAL,	/* (privsep.c) a PROXY v2 LOCAL header: the
				 * balancer's health check, ended quietly */
	END_PROXY_MISPLACED,	/* a PROXY header where a command should be:
				 * from a peer not in --proxy-trusted */
};

enum session_end session_authorize(const struct policy *p,
    struct credentials *creds);
enum session_end session_transact(struct mailbox *mb, struct stats *st,
    const struct policy *login);

enum session_phase { SESSION_OPEN, SESSION_SEND, SESSION_UPDATE };
void session_reply_status(enum mb_status st, enum session_phase at);
const char *session_end_name(enum session_end e);

#endif
