/*
 * session.h: the POP3 command loop (RFC 1939, RFC 2449) and the user's
 * states; login.c holds the AUTHORIZATION state's table.
 *
 *   session_run(s, state)    answers commands from the state's table until
 *       a handler ends the state (SESSION_LEAVE, s->end says how) or the
 *       client goes, is silent too long or makes max_errors mistakes in a
 *       row.  Every line gets exactly one reply; one longer than
 *       MAX_COMMAND, with a control character (8-bit bytes only after
 *       PASS), an unknown keyword or one of another state gets -ERR.
 *   session_ok(text), session_err(text)  a one-line reply
 *   session_want_args(s, min, max)  the argument count is in range; else
 *       it has replied -ERR
 *   session_capa(s)          CAPA (RFC 2449), in both states
 *   session_transact(mb, stats, login)  the TRANSACTION state as the user,
 *       and the UPDATE state on QUIT; login: the policy the login ended
 *       with (CAPA lists its capabilities)
 *   session_reply_status(st, at)  the -ERR line for a mailbox status, by
 *       where it came (opening the mailbox, sending a message, UPDATE):
 *       the one table of them
 *   session_end_name(e)      how a session ended, for the log
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
				 * calls login_authorize again */
	END_TLS_FAILED,		/* (for the caller) the handshake failed */
	END_QUIT,		/* QUIT, and UPDATE if in TRANSACTION, succeeded */
	END_UPDATE_FAILED,	/* QUIT, but the UPDATE removed nothing */
	END_EOF,
	END_TIMEOUT,
	END_ERRORS,		/* too many bad commands */
	END_IOERR,
	END_PROXY_REFUSED,	/* (login.c) the PROXY header a trusted peer
				 * must send is missing or bad: no greeting */
	END_PROXY_LOCAL,	/* (login.c) a PROXY v2 LOCAL header: the
				 * balancer's health check, ended quietly */
	END_PROXY_MISPLACED,	/* a PROXY header where a command should be:
				 * from a peer not in --proxy-trusted */
};

/* What a handler tells the loop. */
enum session_outcome {
	SESSION_DONE,		/* replied; the command succeeded */
	SESSION_FAILED,		/* replied -ERR; counts towards max_errors */
	SESSION_LEAVE,		/* the state is over; see end */
};

/* The session as the handlers see it. */
struct session {
	const struct policy *policy;
	struct credentials *creds;	/* AUTHORIZATION */
	bool have_user;
	struct mailbox *mb;		/* TRANSACTION */
	struct stats *stats;
	enum session_end end;		/* with SESSION_LEAVE */
	char *args[3];		/* the arguments, split at single spaces */
	int nargs;
	char *rest;		/* everything after the keyword and its space */
};

struct session_command {
	const char *name;
	enum session_outcome (*run)(struct session *);	/* NULL: a command
						 * of another state */
	bool whole;		/* takes the rest of the line unsplit (PASS) */
};

struct session_state {
	const struct session_command *commands;
	size_t count;
	unsigned max_errors;
	/* NULL, or a check of the first line: true when it ended the state
	 * (it has replied and set end). */
	bool (*first_line)(struct session *s, const char *line, size_t len);
};

enum session_end session_run(struct session *s, const struct session_state *st);
enum session_outcome session_ok(const char *text);
enum session_outcome session_err(const char *text);
bool session_want_args(struct session *s, int min, int max);
enum session_outcome session_capa(struct session *s);
enum session_end session_transact(struct mailbox *mb, struct stats *st,
    const struct policy *login);

enum session_phase { SESSION_OPEN, SESSION_SEND, SESSION_UPDATE };
void session_reply_status(enum mb_status st, enum session_phase at);
const char *session_end_name(enum session_end e);

#endif
