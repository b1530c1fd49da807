/*
 * session.c: command parsing and the POP3 states.  See session.h.
 *
 * Every command line gets exactly one reply.  A line is refused with -ERR
 * (and the session goes on) when it is longer than MAX_COMMAND octets, holds
 * a NUL or another control character, names an unknown command, comes in the
 * wrong state, or has missing, extra or malformed arguments.
 */
#include "session.h"
#include "state.h"
#include "apop.h"
#include "io.h"
#include "log.h"
#include "proxy.h"
#include "sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum state { AUTHORIZATION = 1, TRANSACTION = 2 };

/* What a handler tells the loop. */
enum outcome {
	DONE,		/* replied; the command succeeded */
	FAILED,		/* replied -ERR; counts towards MAX_ERRORS_* */
	LEAVE,		/* the state is over; see ctx->end */
};

struct ctx {
	enum state state;
	const struct policy *policy;
	struct credentials *creds;
	bool have_user;
	struct mailbox *mb;
	struct stats *stats;
	enum session_end end;
	char *args[3];		/* the arguments, split at single spaces */
	int nargs;
	char *rest;		/* everything after the keyword and its space */
};

static enum outcome reply_err(const char *text)
{
	io_printf("-ERR %s\r\n", text);
	return FAILED;
}

static enum outcome reply_ok(const char *text)
{
	io_printf("+OK%s%s\r\n", *text ? " " : "", text);
	return DONE;
}

/* What the client hears of a mailbox status (RFC 2449 and RFC 3206 codes),
 * by where it came: the first row is for any status without its own. */
static const char *const status_replies[][3] = {
	[MB_OK] = {
		[SESSION_OPEN] = "[SYS/PERM] cannot open the mailbox",
		[SESSION_UPDATE] = "[SYS/TEMP] nothing deleted: cannot update "
		    "the mailbox now" },
	[MB_INUSE] = { [SESSION_OPEN] = "[IN-USE] the mailbox is in use by "
	    "another POP3 session" },
	[MB_TOOBIG] = { [SESSION_OPEN] = "[SYS/PERM] the mailbox is too large "
	    "to serve" },
	[MB_SYSERR] = { [SESSION_OPEN] = "[SYS/TEMP] cannot open the mailbox" },
	[MB_LOCKED] = { [SESSION_OPEN] = "[SYS/TEMP] cannot open the mailbox",
	    [SESSION_UPDATE] = "[SYS/TEMP] nothing deleted: mailbox locked, "
	    "try later" },
	[MB_PENDING] = { [SESSION_OPEN] = "[SYS/TEMP] cannot open the mailbox",
	    [SESSION_UPDATE] = "[SYS/TEMP] deleting was interrupted; it "
	    "completes at the next login" },
	[MB_CHANGED] = { [SESSION_SEND] = "[SYS/TEMP] mailbox changed by "
	    "another program", [SESSION_UPDATE] = "[SYS/TEMP] nothing deleted: "
	    "mailbox changed by another program" },
	[MB_UNSURE] = { [SESSION_UPDATE] = "[SYS/TEMP] messages deleted, but "
	    "the disk reported an error: some may come back" },
};

void session_reply_status(enum mb_status st, enum session_phase at)
{
	const char *r = (size_t)st < sizeof(status_replies) /
	    sizeof(status_replies[0]) ? status_replies[st][at] : NULL;
	io_printf("-ERR %s\r\n", r ? r : status_replies[MB_OK][at]);
}

/* A message number: 1..count, decimal digits only, not deleted.  On failure
 * it has replied. */
static bool message_number(struct ctx *c, const char *s, size_t *index)
{
	size_t len = strlen(s);
	if (len == 0 || len > 10 || strspn(s, "0123456789") != len) {
		reply_err("invalid message number");
		return false;
	}
	unsigned long long n = strtoull(s, NULL, 10);
	if (n == 0 || n > c->mb->ix.count) {
		reply_err("no such message");
		return false;
	}
	if (c->mb->ix.msg[n - 1].deleted) {
		reply_err("message is deleted");
		return false;
	}
	*index = (size_t)(n - 1);
	return true;
}

static bool want_args(struct ctx *c, int min, int max)
{
	if (c->nargs < min || c->nargs > max) {
		reply_err(c->nargs < min ? "missing argument" : "too many arguments");
		return false;
	}
	return true;
}

/* ---- AUTHORIZATION ---------------------------------------------------- */

static enum outcome cmd_user(struct ctx *c)
{
	if (!want_args(c, 1, 1))
		return FAILED;
	if (!c->policy->plaintext_ok)
		return reply_err("[AUTH] Plaintext authentication is not allowed "
		    "on this connection");
	if (strlen(c->args[0]) > MAX_USER)
		return reply_err("user name too long");
	snprintf(c->creds->user, sizeof(c->creds->user), "%s", c->args[0]);
	c->have_user = true;
	return reply_ok("send the password");
}

static enum outcome cmd_pass(struct ctx *c)
{
	if (!c->have_user)
		return reply_err("send USER first");
	if (!c->policy->plaintext_ok)
		return reply_err("[AUTH] Plaintext authentication is not allowed "
		    "on this connection");
	if (!c->rest || c->rest[0] == '\0')
		return reply_err("missing argument");
	snprintf(c->creds->pass, sizeof(c->creds->pass), "%s", c->rest);
	strcpy(c->creds->method, "USER");
	c->have_user = false;
	c->end = END_LOGIN;
	return LEAVE;
}

/* RFC 2595 section 4: only in AUTHORIZATION, only once, and the USER given
 * before it is forgotten (the new session starts from scratch). */
static enum outcome cmd_stls(struct ctx *c)
{
	if (!want_args(c, 0, 0))
		return FAILED;
	if (!c->policy->stls)
		return reply_err("STLS not available on this connection");
	reply_ok("Begin TLS negotiation");
	c->have_user = false;
	c->end = END_STARTTLS;
	return LEAVE;
}

/* RFC 1939 section 7: APOP name digest.  Not a plaintext password, so the
 * plaintext policy does not apply; off unless --apop. */
static enum outcome cmd_apop(struct ctx *c)
{
	if (!c->policy->apop)
		return reply_err("APOP is not enabled");
	if (!want_args(c, 2, 2))
		return FAILED;
	if (strlen(c->args[0]) > MAX_USER)
		return reply_err("user name too long");
	if (!apop_digest_ok(c->args[1]))
		return reply_err("invalid digest");
	snprintf(c->creds->user, sizeof(c->creds->user), "%s", c->args[0]);
	snprintf(c->creds->pass, sizeof(c->creds->pass), "%s", c->args[1]);
	strcpy(c->creds->method, "APOP");
	c->end = END_LOGIN;
	return LEAVE;
}

/* RFC 5034: AUTH [mechanism [initial-response]].  Only PLAIN, which sends
 * the password, so it follows the plaintext policy as USER does. */
static enum outcome cmd_auth(struct ctx *c)
{
	if (!want_args(c, 0, 2))
		return FAILED;
	if (c->nargs == 0) {
		/* Not in RFC 5034, but common practice (and RFC 1734's
		 * clients ask this way): the mechanisms, one a line. */
		io_puts(c->policy->plaintext_ok ? "+OK\r\nPLAIN\r\n.\r\n" :
		    "+OK\r\n.\r\n");
		return DONE;
	}
	if (strcasecmp(c->args[0], "PLAIN") != 0)
		return reply_err("unsupported authentication mechanism");
	if (!c->policy->plaintext_ok)
		return reply_err("[AUTH] Plaintext authentication is not allowed "
		    "on this connection");
	char line[MAX_SASL_LINE + 2] = "";
	const char *resp = line;
	enum sasl_result r = SASL_BAD_FORMAT;
	enum outcome o = FAILED;
	if (c->nargs == 2) {
		/* Section 4: "=" is an empty initial response. */
		resp = strcmp(c->args[1], "=") == 0 ? "" : c->args[1];
	} else {
		size_t len;
		io_puts("+ \r\n");
		enum io_status s = io_getline(line, sizeof(line), &len);
		if (s != IO_LINE && s != IO_TOOLONG) {
			c->end = s == IO_EOF ? END_EOF : s == IO_TIMEOUT ?
			    END_TIMEOUT : END_IOERR;
			o = LEAVE;
			goto out;
		}
		if (s == IO_TOOLONG || len > MAX_SASL_LINE) {
			reply_err("authentication response too long");
			goto out;
		}
	}
	if (strcmp(resp, "*") == 0) {
		reply_err("authentication cancelled");
		goto out;
	}
	r = sasl_plain(resp, c->creds->user, sizeof(c->creds->user),
	    c->creds->pass, sizeof(c->creds->pass));
	if (r != SASL_OK) {
		log_msg(LOG_INFO, "AUTH PLAIN refused: %s", sasl_strerror(r));
		reply_err(r == SASL_AUTHZID ? "[AUTH] authorization identity "
		    "refused" : "invalid authentication response");
		goto out;
	}
	strcpy(c->creds->method, "PLAIN");
	c->end = END_LOGIN;
	o = LEAVE;
out:
	explicit_bzero(line, sizeof(line));
	return o;
}

static enum outcome cmd_capa(struct ctx *c)
{
	if (!want_args(c, 0, 0))
		return FAILED;
	io_puts("+OK capability list follows\r\n"
	    "TOP\r\n"
	    "UIDL\r\n"
	    "RESP-CODES\r\n"
	    "AUTH-RESP-CODE\r\n"
	    "PIPELINING\r\n"
	    "EXPIRE NEVER\r\n");
	if (c->policy->stls)
		io_puts("STLS\r\n");
	if (c->policy->plaintext_ok)
		io_puts("USER\r\n");
	/* Listed in both states, as USER is: clients cache the first list. */
	if (c->policy->plaintext_ok)
		io_puts("SASL PLAIN\r\n");
	io_puts("IMPLEMENTATION pop3d " POP3D_VERSION "\r\n.\r\n");
	return DONE;
}

static enum outcome cmd_quit(struct ctx *c)
{
	if (!want_args(c, 0, 0))
		return FAILED;
	if (c->state == AUTHORIZATION) {
		reply_ok("bye");
		c->end = END_QUIT;
		return LEAVE;
	}
	/* RFC 1939 section 6: the UPDATE state. */
	unsigned long deleted = 0;
	for (size_t i = 0; i < c->mb->ix.count; i++)
		deleted += c->mb->ix.msg[i].deleted;
	size_t left = c->mb->ix.count - deleted;	/* the index is used up */
	enum mb_status st = mailbox_update(c->mb);
	if (st != MB_OK) {
		log_msg(LOG_ERR, "UPDATE of %s failed: %s (state directory %s)",
		    c->mb->path, mailbox_strerror(st), state_dir() ?
		    state_dir() : state_problem()[0] ? state_problem() : "none");
		session_reply_status(st, SESSION_UPDATE);
		c->end = END_UPDATE_FAILED;
		return LEAVE;
	}
	c->stats->deleted = deleted;
	/* The mailbox is done with: free it before the client hears so. */
	state_session_unlock();
	io_printf("+OK bye, %zu messages left\r\n", left);
	c->end = END_QUIT;
	return LEAVE;
}

/* ---- TRANSACTION ------------------------------------------------------ */

static void totals(const struct mailbox *mb, size_t *n, unsigned long long *sz)
{
	*n = 0;
	*sz = 0;
	for (size_t i = 0; i < mb->ix.count; i++)
		if (!mb->ix.msg[i].deleted) {
			(*n)++;
			*sz += mb->ix.msg[i].octets;
		}
}

static enum outcome cmd_stat(struct ctx *c)
{
	if (!want_args(c, 0, 0))
		return FAILED;
	size_t n;
	unsigned long long sz;
	totals(c->mb, &n, &sz);
	io_printf("+OK %zu %llu\r\n", n, sz);
	return DONE;
}

/* Writes v in decimal at p; returns the end. */
static char *decimal(char *p, unsigned long long v)
{
	char tmp[20];
	size_t n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* LIST and UIDL: one message, or every message not deleted. */
static enum outcome scan_listing(struct ctx *c, bool uidl)
{
	if (!want_args(c, 0, 1))
		return FAILED;
	char id[UIDL_MAX + 1];
	if (c->nargs == 1) {
		size_t i;
		if (!message_number(c, c->args[0], &i))
			return FAILED;
		if (uidl) {
			mailbox_uidl(c->mb, i, id);
			io_printf("+OK %zu %s\r\n", i + 1, id);
		} else {
			io_printf("+OK %zu %llu\r\n", i + 1,
			    (unsigned long long)c->mb->ix.msg[i].octets);
		}
		return DONE;
	}
	io_puts(uidl ? "+OK unique-id listing follows\r\n" :
	    "+OK scan listing follows\r\n");
	/* Formatted by hand: printf would cost more than all the rest of a
	 * 100,000-line listing. */
	char line[24 + UIDL_MAX + 3];
	for (size_t i = 0; i < c->mb->ix.count; i++) {
		if (c->mb->ix.msg[i].deleted)
			continue;
		char *p = decimal(line, i + 1);
		*p++ = ' ';
		if (uidl) {
			mailbox_uidl(c->mb, i, p);
			p += strlen(p);
		} else {
			p = decimal(p, c->mb->ix.msg[i].octets);
		}
		*p++ = '\r';
		*p++ = '\n';
		io_put(line, (size_t)(p - line));
	}
	io_puts(".\r\n");
	return DONE;
}

static enum outcome cmd_list(struct ctx *c)
{
	return scan_listing(c, false);
}

static enum outcome cmd_uidl(struct ctx *c)
{
	return scan_listing(c, true);
}

static enum outcome send_message(struct ctx *c, size_t i, long lines)
{
	enum mb_status st = mailbox_send(c->mb, i, lines);
	if (st == MB_CHANGED) {
		log_msg(LOG_WARNING, "%s changed under the session", c->mb->path);
		session_reply_status(st, SESSION_SEND);
		return FAILED;
	}
	if (st != MB_OK) {
		/* Part of the message may have been queued: the only honest
		 * thing left is to end the session, without UPDATE. */
		log_msg(LOG_ERR, "reading %s: %s", c->mb->path,
		    mailbox_strerror(st));
		c->end = END_IOERR;
		return LEAVE;
	}
	return DONE;
}

static enum outcome cmd_retr(struct ctx *c)
{
	size_t i;
	if (!want_args(c, 1, 1) || !message_number(c, c->args[0], &i))
		return FAILED;
	enum outcome o = send_message(c, i, -1);
	if (o == DONE) {
		c->stats->retrieved++;
		c->stats->retrieved_bytes += c->mb->ix.msg[i].octets;
	}
	return o;
}

static enum outcome cmd_top(struct ctx *c)
{
	size_t i;
	if (!want_args(c, 2, 2) || !message_number(c, c->args[0], &i))
		return FAILED;
	const char *k = c->args[1];
	size_t len = strlen(k);
	if (len == 0 || len > 10 || strspn(k, "0123456789") != len)
		return reply_err("invalid line count");
	enum outcome o = send_message(c, i, (long)strtoull(k, NULL, 10));
	if (o == DONE)
		c->stats->top++;
	return o;
}

static enum outcome cmd_dele(struct ctx *c)
{
	size_t i;
	if (!want_args(c, 1, 1) || !message_number(c, c->args[0], &i))
		return FAILED;
	c->mb->ix.msg[i].deleted = true;
	io_printf("+OK message %zu deleted\r\n", i + 1);
	return DONE;
}

static enum outcome cmd_noop(struct ctx *c)
{
	if (!want_args(c, 0, 0))
		return FAILED;
	return reply_ok("");
}

static enum outcome cmd_rset(struct ctx *c)
{
	if (!want_args(c, 0, 0))
		return FAILED;
	for (size_t i = 0; i < c->mb->ix.count; i++)
		c->mb->ix.msg[i].deleted = false;
	size_t n;
	unsigned long long sz;
	totals(c->mb, &n, &sz);
	io_printf("+OK maildrop has %zu messages (%llu octets)\r\n", n, sz);
	return DONE;
}

/* ---- the loop --------------------------------------------------------- */

static const struct command {
	const char *name;
	enum outcome (*run)(struct ctx *);
	unsigned states;
} commands[] = {
	{ "USER", cmd_user, AUTHORIZATION },
	{ "PASS", cmd_pass, AUTHORIZATION },
	{ "STLS", cmd_stls, AUTHORIZATION },
	{ "APOP", cmd_apop, AUTHORIZATION },
	{ "AUTH", cmd_auth, AUTHORIZATION },
	{ "CAPA", cmd_capa, AUTHORIZATION | TRANSACTION },
	{ "QUIT", cmd_quit, AUTHORIZATION | TRANSACTION },
	{ "STAT", cmd_stat, TRANSACTION },
	{ "LIST", cmd_list, TRANSACTION },
	{ "RETR", cmd_retr, TRANSACTION },
	{ "DELE", cmd_dele, TRANSACTION },
	{ "NOOP", cmd_noop, TRANSACTION },
	{ "RSET", cmd_rset, TRANSACTION },
	{ "TOP", cmd_top, TRANSACTION },
	{ "UIDL", cmd_uidl, TRANSACTION },
};

/* Splits "KEYWORD arg arg" in place.  The keyword may be followed by one
 * space and the rest of the line (PASS takes the rest whole). */
static const struct command *parse(struct ctx *c, char *line, bool *known)
{
	char *sp = strchr(line, ' ');
	if (sp)
		*sp = '\0';
	c->rest = sp ? sp + 1 : NULL;
	c->nargs = 0;
	*known = false;
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcasecmp(line, commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd)
		return NULL;
	*known = true;
	if (cmd->run == cmd_pass)
		return cmd;
	/* Arguments are separated by single spaces (RFC 1939 section 3). */
	for (char *p = c->rest; p; ) {
		if (c->nargs == 3)
			return cmd; /* want_args refuses it */
		c->args[c->nargs++] = p;
		p = strchr(p, ' ');
		if (p)
			*p++ = '\0';
	}
	return cmd;
}

/* Control characters (NUL included) are refused anywhere; 8-bit bytes only
 * in a password. */
static bool clean(const char *line, size_t len)
{
	bool pass = len >= 5 && strncasecmp(line, "PASS ", 5) == 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && !pass))
			return false;
	}
	return true;
}

/* A PROXY header (a balancer's, or a forged one) where the first command
 * should be: the peer is not in --proxy-trusted, or sent a second header.
 * It is bad input, and the address it claims is never used or logged. */
static bool misplaced_proxy_header(const char *line, size_t len)
{
	char next[16];
	size_t n = io_peek(next, sizeof(next));
	return proxy_misplaced(line, len, next, n);
}

static enum session_end run(struct ctx *c)
{
	char line[MAX_COMMAND + 2];
	unsigned errors = 0;
	bool first = true;
	unsigned max = c->state == AUTHORIZATION ? MAX_ERRORS_AUTH :
	    MAX_ERRORS_TRANS;
	for (;;) {
		size_t len;
		enum io_status s = io_getline(line, sizeof(line), &len);
		enum outcome o;
		if (s == IO_EOF)
			return END_EOF;
		if (s == IO_TIMEOUT)
			return END_TIMEOUT;
		if (s == IO_ERROR)
			return END_IOERR;
		bool known = false;
		const struct command *cmd = NULL;
		if (c->state == AUTHORIZATION && first && s == IO_LINE &&
		    misplaced_proxy_header(line, len)) {
			explicit_bzero(line, sizeof(line));
			io_puts("-ERR unexpected PROXY protocol header\r\n");
			io_flush();
			return END_PROXY_MISPLACED;
		}
		first = false;
		if (s == IO_TOOLONG || len > MAX_COMMAND)
			o = reply_err("command line too long");
		else if (!clean(line, len))
			o = reply_err("invalid characters in command");
		else if (!(cmd = parse(c, line, &known)))
			o = reply_err("unknown command");
		else if (!(cmd->states & c->state))
			o = reply_err("command not valid in this state");
		else
			o = cmd->run(c);
		explicit_bzero(line, sizeof(line));
		if (o == LEAVE)
			return c->end;
		errors = o == FAILED ? errors + 1 : 0;
		if (errors >= max) {
			io_puts("-ERR too many errors, closing\r\n");
			io_flush();
			return END_ERRORS;
		}
	}
}

enum session_end session_authorize(const struct policy *p,
    struct credentials *creds)
{
	struct ctx c = { .state = AUTHORIZATION, .policy = p, .creds = creds };
	return run(&c);
}

/* RFC 2449 section 5: CAPA in TRANSACTION lists the AUTHORIZATION
 * capabilities too, all but STLS. */
enum session_end session_transact(struct mailbox *mb, struct stats *st,
    const struct policy *login)
{
	struct policy p = *login;
	p.stls = false;
	struct ctx c = { .state = TRANSACTION, .policy = &p, .mb = mb,
	    .stats = st };
	return run(&c);
}

const char *session_end_name(enum session_end e)
{
	static const char *const names[] = {
		[END_LOGIN] = "login", [END_STARTTLS] = "starttls",
		[END_TLS_FAILED] = "tls failed", [END_QUIT] = "quit",
		[END_UPDATE_FAILED] = "quit, update failed", [END_EOF] = "eof",
		[END_TIMEOUT] = "timeout", [END_ERRORS] = "too many errors",
		[END_IOERR] = "i/o error",
		[END_PROXY_REFUSED] = "no valid proxy header",
		[END_PROXY_LOCAL] = "proxy health check",
		[END_PROXY_MISPLACED] = "proxy header from an untrusted peer",
	};
	return names[e];
}
