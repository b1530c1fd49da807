/*
 * login.c: the login process: the PROXY header, TLS, the greeting and the
 * AUTHORIZATION state, and its end of the pipes to the root parent.  See
 * login.h.
 *
 * Runs in: the login process.
 */
#include "login.h"
#include "fdio.h"
#include "apop.h"
#include "log.h"
#include "params.h"
#include "proxy.h"
#include "sasl.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

static const struct login_config *cfg;
static struct policy policy;	/* what AUTHORIZATION offers now */
static bool tls_failed;
static enum session_end proxy_end = END_LOGIN;	/* else: ends before greeting */
static char client[ADDR_TEXT];	/* from the PROXY header; "" if none */

static enum session_outcome cmd_user(struct session *c)
{
	if (!session_want_args(c, 1, 1))
		return SESSION_FAILED;
	if (!c->policy->plaintext_ok)
		return session_err("[AUTH] Plaintext authentication is not allowed "
		    "on this connection");
	if (strlen(c->args[0]) > MAX_USER)
		return session_err("user name too long");
	snprintf(c->creds->user, sizeof(c->creds->user), "%s", c->args[0]);
	c->have_user = true;
	return session_ok("send the password");
}

static enum session_outcome cmd_pass(struct session *c)
{
	if (!c->have_user)
		return session_err("send USER first");
	if (!c->policy->plaintext_ok)
		return session_err("[AUTH] Plaintext authentication is not allowed "
		    "on this connection");
	if (!c->rest || c->rest[0] == '\0')
		return session_err("missing argument");
	snprintf(c->creds->pass, sizeof(c->creds->pass), "%s", c->rest);
	strcpy(c->creds->method, "USER");
	c->have_user = false;
	c->end = END_LOGIN;
	return SESSION_LEAVE;
}

/* RFC 2595 section 4: only in AUTHORIZATION, only once, and the USER given
 * before it is forgotten (the new session starts from scratch). */
static enum session_outcome cmd_stls(struct session *c)
{
	if (!session_want_args(c, 0, 0))
		return SESSION_FAILED;
	if (!c->policy->stls)
		return session_err("STLS not available on this connection");
	session_ok("Begin TLS negotiation");
	c->have_user = false;
	c->end = END_STARTTLS;
	return SESSION_LEAVE;
}

/* RFC 1939 section 7: APOP name digest.  Not a plaintext password, so the
 * plaintext policy does not apply; off unless --apop. */
static enum session_outcome cmd_apop(struct session *c)
{
	if (!c->policy->apop)
		return session_err("APOP is not enabled");
	if (!session_want_args(c, 2, 2))
		return SESSION_FAILED;
	if (strlen(c->args[0]) > MAX_USER)
		return session_err("user name too long");
	if (!apop_digest_ok(c->args[1]))
		return session_err("invalid digest");
	snprintf(c->creds->user, sizeof(c->creds->user), "%s", c->args[0]);
	snprintf(c->creds->pass, sizeof(c->creds->pass), "%s", c->args[1]);
	strcpy(c->creds->method, "APOP");
	c->end = END_LOGIN;
	return SESSION_LEAVE;
}

/* RFC 5034: AUTH [mechanism [initial-response]].  Only PLAIN, which sends
 * the password, so it follows the plaintext policy as USER does. */
static enum session_outcome cmd_auth(struct session *c)
{
	if (!session_want_args(c, 0, 2))
		return SESSION_FAILED;
	if (c->nargs == 0) {
		/* Not in RFC 5034, but common practice (and RFC 1734's
		 * clients ask this way): the mechanisms, one a line. */
		io_puts(c->policy->plaintext_ok ? "+OK\r\nPLAIN\r\n.\r\n" :
		    "+OK\r\n.\r\n");
		return SESSION_DONE;
	}
	if (strcasecmp(c->args[0], "PLAIN") != 0)
		return session_err("unsupported authentication mechanism");
	if (!c->policy->plaintext_ok)
		return session_err("[AUTH] Plaintext authentication is not allowed "
		    "on this connection");
	char line[MAX_SASL_LINE + 2] = "";
	const char *resp = line;
	enum sasl_result r = SASL_BAD_FORMAT;
	enum session_outcome o = SESSION_FAILED;
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
			o = SESSION_LEAVE;
			goto out;
		}
		if (s == IO_TOOLONG || len > MAX_SASL_LINE) {
			session_err("authentication response too long");
			goto out;
		}
	}
	if (strcmp(resp, "*") == 0) {
		session_err("authentication cancelled");
		goto out;
	}
	r = sasl_plain(resp, c->creds->user, sizeof(c->creds->user),
	    c->creds->pass, sizeof(c->creds->pass));
	if (r != SASL_OK) {
		log_msg(LOG_INFO, "AUTH PLAIN refused: %s", sasl_strerror(r));
		session_err(r == SASL_AUTHZID ? "[AUTH] authorization identity "
		    "refused" : "invalid authentication response");
		goto out;
	}
	strcpy(c->creds->method, "PLAIN");
	c->end = END_LOGIN;
	o = SESSION_LEAVE;
out:
	explicit_bzero(line, sizeof(line));
	return o;
}

/* RFC 1939 section 6: QUIT in AUTHORIZATION ends without UPDATE. */
static enum session_outcome cmd_quit_early(struct session *c)
{
	if (!session_want_args(c, 0, 0))
		return SESSION_FAILED;
	session_ok("bye");
	c->end = END_QUIT;
	return SESSION_LEAVE;
}

/* A PROXY header (a balancer's, or a forged one) where the first command
 * should be: the peer is not in --proxy-trusted, or sent a second header.
 * It is bad input, and the address it claims is never used or logged. */
static bool misplaced_proxy_header(struct session *c, const char *line,
    size_t len)
{
	char next[16];
	size_t n = io_peek(next, sizeof(next));
	if (!proxy_misplaced(line, len, next, n))
		return false;
	io_puts("-ERR unexpected PROXY protocol header\r\n");
	io_flush();
	c->end = END_PROXY_MISPLACED;
	return true;
}

/* RFC 1939 sections 4 and 7, RFC 2595 section 4, RFC 5034; a row without
 * a handler is a command of the TRANSACTION state. */
static const struct session_command authorization[] = {
	{ "USER", cmd_user, false }, { "PASS", cmd_pass, true },
	{ "STLS", cmd_stls, false }, { "APOP", cmd_apop, false },
	{ "AUTH", cmd_auth, false }, { "CAPA", session_capa, false },
	{ "QUIT", cmd_quit_early, false },
	{ "STAT", NULL, false }, { "LIST", NULL, false }, { "RETR", NULL, false },
	{ "DELE", NULL, false }, { "NOOP", NULL, false }, { "RSET", NULL, false },
	{ "TOP", NULL, false }, { "UIDL", NULL, false },
};

enum session_end login_authorize(const struct policy *p,
    struct credentials *creds)
{
	static const struct session_state st = { authorization,
	    sizeof(authorization) / sizeof(authorization[0]), MAX_ERRORS_AUTH,
	    misplaced_proxy_header };
	struct session c = { .policy = p, .creds = creds };
	return session_run(&c, &st);
}

/* What is left of the deadline, in whole seconds (rounded up). */
static int seconds_left(void)
{
	long long ms = io_ms_left(&cfg->deadline);
	return ms <= 0 ? 0 : (int)((ms + 999) / 1000);
}

static bool start_tls(void)
{
	if (!tls_start(0, 1, seconds_left()))
		return false;
	io_set_transport(tls_transport());
	policy.stls = false;
	policy.plaintext_ok = true;	/* the password is now encrypted */
	return true;
}

/* The PROXY header, before anything else is read or sent.  false: the
 * session ends here, without a greeting (proxy_end says how).  Under
 * --plaintext=secure a plaintext password crosses two lines, the client's
 * to the balancer and the balancer's to us: both must be local (the
 * balancer's was checked by the caller; privsep.c's take_client applies
 * the same rule). */
static bool read_proxy_header(void)
{
	struct proxy_header h;
	int seconds = cfg->login_timeout < PROXY_TIMEOUT ? cfg->login_timeout :
	    PROXY_TIMEOUT;
	enum proxy_status s = proxy_read(0, seconds, &h);
	if (s == PROXY_LOCAL) {
		proxy_end = END_PROXY_LOCAL;
		return false;
	}
	if (s != PROXY_CLIENT && s != PROXY_UNKNOWN) {
		log_msg(LOG_NOTICE, "PROXY header refused peer=%s reason=%s%s%s",
		    cfg->peer, proxy_strerror(s), h.why ? ": " : "",
		    h.why ? h.why : "");
		proxy_end = END_PROXY_REFUSED;
		return false;
	}
	if (s == PROXY_CLIENT)
		addr_format(&h.client, client);
	if (cfg->plaintext_secure && !(s == PROXY_CLIENT &&
	    addr_loopback(&h.client)))
		policy.plaintext_ok = false;
	return true;
}

/* The first line, after the handshake for implicit TLS (RFC 8314 3.3); a
 * PROXY header before both. */
void login_open(const struct login_config *c)
{
	cfg = c;
	policy = c->policy;
	io_init(0, 1, cfg->timeout);
	io_set_deadline(&cfg->deadline);
	if (cfg->proxy && !read_proxy_header())
		return;
	if (cfg->tls == TLS_IMPLICIT && !start_tls()) {
		tls_failed = true;
		return;
	}
	io_puts(cfg->greeting);
}

/* AUTHORIZATION until credentials or the end; STLS is done here.  What the
 * client sent before the handshake is dropped unread (RFC 2595 section 4,
 * CVE-2011-0411): commands must not be injected into the TLS session. */
static enum session_end until_credentials(struct credentials *creds)
{
	if (proxy_end != END_LOGIN)
		return proxy_end;
	if (tls_failed)
		return END_TLS_FAILED;
	for (;;) {
		enum session_end end = login_authorize(&policy, creds);
		if (end != END_STARTTLS)
			return end;
		io_flush();
		io_discard_input();
		if (!start_tls())
			return END_TLS_FAILED;
	}
}

void login_attempt(struct login_record *r, bool handing_over)
{
	memset(r, 0, sizeof(*r));
	r->end = (int)until_credentials(&r->creds);
	r->tls = tls_active();
	tls_describe(r->tls_info, sizeof(r->tls_info));
	memcpy(r->client, client, sizeof(r->client));
	if (r->end != END_LOGIN)
		io_flush();
	else if (handing_over) {
		r->pending = io_take_input(r->input, sizeof(r->input));
		r->queued = io_copy_output(r->output, sizeof(r->output));
	}
	r->sent = io_sent();
}

/* Into the chroot as the login account, for good.  Then the limits of a
 * process that needs no new process and must never dump a password into a
 * core file.  (No RLIMIT_FSIZE: the "client" or the -d log may be a file.) */
static bool drop_to(const struct passwd *pw)
{
	if (chroot(cfg->login_chroot) < 0 || chdir("/") < 0 ||
	    setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		return false;
	if (setuid(0) == 0 || geteuid() != pw->pw_uid)
		return false;
	const struct rlimit none = { 0, 0 };
	return setrlimit(RLIMIT_CORE, &none) == 0 &&
#ifdef RLIMIT_NPROC
	    setrlimit(RLIMIT_NPROC, &none) == 0 &&
#endif
	    true;
}

_Noreturn void login_run(const struct login_config *c,
    const struct passwd *pw, int rec_fd, int verdict_fd, int relay_fd)
{
	static struct login_record rec;	/* static: 8 KiB */
	struct verdict v;
	cfg = c;
	if (!drop_to(pw)) {
		log_msg(LOG_CRIT, "login process: cannot chroot to %s as %s: %s",
		    cfg->login_chroot, cfg->login_user, strerror(errno));
		_exit(1);
	}
	login_open(c);
	for (;;) {
		login_attempt(&rec, true);
		bool sent = fdio_write_all(rec_fd, &rec, sizeof(rec));
		explicit_bzero(&rec.creds, sizeof(rec.creds));
		if (!sent || rec.end != END_LOGIN || !io_fd_read(verdict_fd, &v,
		    sizeof(v), NULL))
			break;
		if (v.ok) {
			if (tls_active())
				tls_relay(relay_fd, cfg->timeout);
			_exit(0);
		}
		io_preload(rec.input, rec.pending);
		v.reply[sizeof(v.reply) - 1] = '\0';
		io_puts(v.reply);
		if (v.last) {
			io_flush();
			break;
		}
	}
	tls_close();
	_exit(0);
}
