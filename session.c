/*
 * session.c: the command loop, CAPA, and the TRANSACTION and UPDATE
 * states.  See session.h.
 *
 * Runs in: the user's session.
 * (The loop and CAPA, session_run and session_capa, also run the
 * AUTHORIZATION table in the login process: login.c.)
 */
#include "session.h"
#include "state.h"
#include "io.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum session_outcome session_err(const char *text)
{
	io_printf("-ERR %s\r\n", text);
	return SESSION_FAILED;
}

enum session_outcome session_ok(const char *text)
{
	io_printf("+OK%s%s\r\n", *text ? " " : "", text);
	return SESSION_DONE;
}

/* What the client hears of a mailbox status (RFC 2449 and RFC 3206 codes),
 * by where it came: the first row is for any status without its own. */
static const char *const status_replies[][3] = {
	[MB_OK] = {
		[SESSION_OPEN] = "[SYS/PERM] cannot open the mailbox",
		[SESSION_SEND] = "[SYS/TEMP] cannot read the mailbox now",
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
	[MB_DAMAGED] = { [SESSION_SEND] = "[SYS/TEMP] the mailbox changed "
	    "and its index is damaged: log in again" },
	[MB_UNSURE] = { [SESSION_UPDATE] = "[SYS/TEMP] messages deleted, but "
	    "the disk reported an error: some may come back" },
};

void session_reply_status(enum mb_status st, enum session_phase at)
{
	const char *r = (size_t)st < sizeof(status_replies) /
	    sizeof(status_replies[0]) ? status_replies[st][at] : NULL;
	io_printf("-ERR %s\r\n", r ? r : status_replies[MB_OK][at]);
}

/* The records of every message, which a cache hit reads only when a
 * command first needs them (mailbox.h).  On failure it has replied. */
static bool need_index(struct session *c)
{
	enum mb_status st = mailbox_index(c->mb);
	if (st == MB_OK)
		return true;
	log_msg(LOG_ERR, "indexing %s: %s", c->mb->path, mailbox_strerror(st));
	session_reply_status(st, SESSION_SEND);
	return false;
}

/* A message number: 1..count, decimal digits only, not deleted.  On failure
 * it has replied. */
static bool message_number(struct session *c, const char *s, size_t *index)
{
	size_t len = strlen(s);
	if (len == 0 || len > 10 || strspn(s, "0123456789") != len) {
		session_err("invalid message number");
		return false;
	}
	unsigned long long n = strtoull(s, NULL, 10);
	if (n == 0 || n > c->mb->ix.count) {
		session_err("no such message");
		return false;
	}
	if (!need_index(c))
		return false;
	if (c->mb->ix.msg[n - 1].deleted) {
		session_err("message is deleted");
		return false;
	}
	*index = (size_t)(n - 1);
	return true;
}

bool session_want_args(struct session *c, int min, int max)
{
	if (c->nargs < min || c->nargs > max) {
		session_err(c->nargs < min ? "missing argument" : "too many arguments");
		return false;
	}
	return true;
}

enum session_outcome session_capa(struct session *c)
{
	if (!session_want_args(c, 0, 0))
		return SESSION_FAILED;
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
	return SESSION_DONE;
}

/* RFC 1939 section 6: QUIT in TRANSACTION, the UPDATE state. */
static enum session_outcome cmd_quit(struct session *c)
{
	if (!session_want_args(c, 0, 0))
		return SESSION_FAILED;
	size_t left;
	unsigned long long octets;
	mailbox_totals(c->mb, &left, &octets);
	unsigned long deleted = (unsigned long)(c->mb->ix.count - left);
	enum mb_status st = mailbox_update(c->mb);
	if (st != MB_OK) {
		log_msg(LOG_ERR, "UPDATE of %s failed: %s (state directory %s)",
		    c->mb->path, mailbox_strerror(st), state_dir() ?
		    state_dir() : state_problem()[0] ? state_problem() : "none");
		session_reply_status(st, SESSION_UPDATE);
		c->end = END_UPDATE_FAILED;
		return SESSION_LEAVE;
	}
	c->stats->deleted = deleted;
	/* The mailbox is done with: free it before the client hears so. */
	state_session_unlock();
	io_printf("+OK bye, %zu messages left\r\n", left);
	c->end = END_QUIT;
	return SESSION_LEAVE;
}

/* ---- TRANSACTION ------------------------------------------------------ */

static enum session_outcome cmd_stat(struct session *c)
{
	if (!session_want_args(c, 0, 0))
		return SESSION_FAILED;
	size_t n;
	unsigned long long sz;
	mailbox_totals(c->mb, &n, &sz);
	io_printf("+OK %zu %llu\r\n", n, sz);
	return SESSION_DONE;
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
static enum session_outcome scan_listing(struct session *c, bool uidl)
{
	if (!session_want_args(c, 0, 1))
		return SESSION_FAILED;
	char id[UIDL_MAX + 1];
	if (c->nargs == 1) {
		size_t i;
		if (!message_number(c, c->args[0], &i))
			return SESSION_FAILED;
		if (uidl) {
			mailbox_uidl(c->mb, i, id);
			io_printf("+OK %zu %s\r\n", i + 1, id);
		} else {
			io_printf("+OK %zu %llu\r\n", i + 1,
			    (unsigned long long)c->mb->ix.msg[i].octets);
		}
		return SESSION_DONE;
	}
	if (!need_index(c))
		return SESSION_FAILED;
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
	return SESSION_DONE;
}

static enum session_outcome cmd_list(struct session *c)
{
	return scan_listing(c, false);
}

static enum session_outcome cmd_uidl(struct session *c)
{
	return scan_listing(c, true);
}

static enum session_outcome send_message(struct session *c, size_t i, long lines)
{
	enum mb_status st = mailbox_send(c->mb, i, lines);
	if (st == MB_CHANGED) {
		log_msg(LOG_WARNING, "%s changed under the session", c->mb->path);
		session_reply_status(st, SESSION_SEND);
		return SESSION_FAILED;
	}
	if (st != MB_OK) {
		/* Part of the message may have been queued: the only honest
		 * thing left is to end the session, without UPDATE. */
		log_msg(LOG_ERR, "reading %s: %s", c->mb->path,
		    mailbox_strerror(st));
		c->end = END_IOERR;
		return SESSION_LEAVE;
	}
	return SESSION_DONE;
}

static enum session_outcome cmd_retr(struct session *c)
{
	size_t i;
	if (!session_want_args(c, 1, 1) || !message_number(c, c->args[0], &i))
		return SESSION_FAILED;
	enum session_outcome o = send_message(c, i, -1);
	if (o == SESSION_DONE) {
		c->stats->retrieved++;
		c->stats->retrieved_bytes += c->mb->ix.msg[i].octets;
	}
	return o;
}

static enum session_outcome cmd_top(struct session *c)
{
	size_t i;
	if (!session_want_args(c, 2, 2) || !message_number(c, c->args[0], &i))
		return SESSION_FAILED;
	const char *k = c->args[1];
	size_t len = strlen(k);
	if (len == 0 || len > 10 || strspn(k, "0123456789") != len)
		return session_err("invalid line count");
	enum session_outcome o = send_message(c, i, (long)strtoull(k, NULL, 10));
	if (o == SESSION_DONE)
		c->stats->top++;
	return o;
}

static enum session_outcome cmd_dele(struct session *c)
{
	size_t i;
	if (!session_want_args(c, 1, 1) || !message_number(c, c->args[0], &i))
		return SESSION_FAILED;
	c->mb->ix.msg[i].deleted = true;
	io_printf("+OK message %zu deleted\r\n", i + 1);
	return SESSION_DONE;
}

static enum session_outcome cmd_noop(struct session *c)
{
	if (!session_want_args(c, 0, 0))
		return SESSION_FAILED;
	return session_ok("");
}

static enum session_outcome cmd_rset(struct session *c)
{
	if (!session_want_args(c, 0, 0))
		return SESSION_FAILED;
	for (size_t i = 0; c->mb->ix.msg && i < c->mb->ix.count; i++)
		c->mb->ix.msg[i].deleted = false;
	size_t n;
	unsigned long long sz;
	mailbox_totals(c->mb, &n, &sz);
	io_printf("+OK maildrop has %zu messages (%llu octets)\r\n", n, sz);
	return SESSION_DONE;
}

/* ---- the loop --------------------------------------------------------- */

/* RFC 1939 section 5; a row without a handler is a command of another
 * state. */
static const struct session_command transaction[] = {
	{ "CAPA", session_capa, false }, { "QUIT", cmd_quit, false },
	{ "STAT", cmd_stat, false }, { "LIST", cmd_list, false },
	{ "RETR", cmd_retr, false }, { "DELE", cmd_dele, false },
	{ "NOOP", cmd_noop, false }, { "RSET", cmd_rset, false },
	{ "TOP", cmd_top, false }, { "UIDL", cmd_uidl, false },
	{ "USER", NULL, false }, { "PASS", NULL, false }, { "STLS", NULL, false },
	{ "APOP", NULL, false }, { "AUTH", NULL, false },
};

/* Splits "KEYWORD arg arg" in place.  The keyword may be followed by one
 * space and the rest of the line (a whole-line command takes it whole). */
static const struct session_command *parse(struct session *c,
    const struct session_state *st, char *line)
{
	char *sp = strchr(line, ' ');
	if (sp)
		*sp = '\0';
	c->rest = sp ? sp + 1 : NULL;
	c->nargs = 0;
	const struct session_command *cmd = NULL;
	for (size_t i = 0; i < st->count; i++)
		if (strcasecmp(line, st->commands[i].name) == 0)
			cmd = &st->commands[i];
	if (!cmd || cmd->whole)
		return cmd;
	/* Arguments are separated by single spaces (RFC 1939 section 3). */
	for (char *p = c->rest; p; ) {
		if (c->nargs == 3)
			return cmd; /* session_want_args refuses it */
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

enum session_end session_run(struct session *c, const struct session_state *st)
{
	char line[MAX_COMMAND + 2];
	unsigned errors = 0;
	bool first = true;
	for (;;) {
		size_t len;
		enum io_status s = io_getline(line, sizeof(line), &len);
		enum session_outcome o;
		if (s == IO_EOF)
			return END_EOF;
		if (s == IO_TIMEOUT)
			return END_TIMEOUT;
		if (s == IO_ERROR)
			return END_IOERR;
		const struct session_command *cmd = NULL;
		if (first && s == IO_LINE && st->first_line &&
		    st->first_line(c, line, len)) {
			explicit_bzero(line, sizeof(line));
			return c->end;
		}
		first = false;
		if (s == IO_TOOLONG || len > MAX_COMMAND)
			o = session_err("command line too long");
		else if (!clean(line, len))
			o = session_err("invalid characters in command");
		else if (!(cmd = parse(c, st, line)))
			o = session_err("unknown command");
		else if (!cmd->run)
			o = session_err("command not valid in this state");
		else
			o = cmd->run(c);
		explicit_bzero(line, sizeof(line));
		if (o == SESSION_LEAVE)
			return c->end;
		errors = o == SESSION_FAILED ? errors + 1 : 0;
		if (errors >= st->max_errors) {
			io_puts("-ERR too many errors, closing\r\n");
			io_flush();
			return END_ERRORS;
		}
	}
}

/* RFC 2449 section 5: CAPA in TRANSACTION lists the AUTHORIZATION
 * capabilities too, all but STLS. */
enum session_end session_transact(struct mailbox *mb, struct stats *stats,
    const struct policy *login)
{
	static const struct session_state st = { transaction,
	    sizeof(transaction) / sizeof(transaction[0]), MAX_ERRORS_TRANS,
	    NULL };
	struct policy p = *login;
	p.stls = false;
	struct session c = { .policy = &p, .mb = mb, .stats = stats };
	return session_run(&c, &st);
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
