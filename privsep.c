/*
 * privsep.c: the login process and its two pipes.  See privsep.h.
 *
 * The interface between the roles is two fixed-size records, so that the
 * root parent parses nothing of variable length from the network side:
 *
 *   login process -> parent (struct login_record), one per attempt:
 *       end      END_LOGIN, or how the session ended before a login
 *       tls      TLS is active, so the login process will stay as relay
 *       tls_info its protocol and cipher for the log (tls_describe), a
 *                bounded printable string
 *       sent     octets the login process has written to the client
 *       creds    user and password, NUL-terminated (END_LOGIN only)
 *       pending  count of the input bytes read after the PASS line, and
 *       input    those bytes (pipelined commands), at most IO_INPUT_BUFFER
 *       queued, output  replies not sent yet (the greeting and those before
 *                PASS), at most as much: the user's process sends them
 *                with its own, so pipelined replies still leave together
 *       client   the client's address from the PROXY header, numeric and
 *                NUL-terminated, or empty (no header, or it names none)
 *   parent -> login process (struct verdict), one per END_LOGIN:
 *       ok       the login succeeded: hand over the client
 *       last     (failure) this was the last attempt: end after the reply
 *       reply    (failure) the line to send to the client
 *
 * The parent checks every field (a compromised login process is just
 * another client), sleeps the failure delay before it answers, and counts
 * the failures itself: the throttle does not depend on the login process.
 * Nor does the login deadline (--login-timeout, from the start to a
 * login): the login process keeps it, and the parent waits for a record
 * no longer than the deadline plus LOGIN_TIMEOUT_GRACE, then kills it.  A
 * record the parent refuses ends the login process the same way.
 */
/* pipe2, SOCK_CLOEXEC (Linux, the BSDs; POSIX.1-2024). */
#define _GNU_SOURCE
#include "privsep.h"
#include "addr.h"
#include "io.h"
#include "log.h"
#include "params.h"
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct login_record {
	int end;		/* enum session_end */
	bool tls;		/* TLS is active: the login process relays */
	char tls_info[TLS_DESCRIPTION_MAX];
	unsigned long long sent;
	struct credentials creds;
	size_t pending;
	char input[IO_INPUT_BUFFER];
	size_t queued;
	char output[IO_INPUT_BUFFER];
	char client[ADDR_TEXT];
};

struct verdict {
	bool ok, last;
	char reply[128];
};

static struct privsep_config cfg;
static struct policy policy;
static bool separated, tls_failed, relaying;
static enum session_end proxy_end = END_LOGIN;	/* else: ends before greeting */
static bool proxy_checked;	/* root: the first record's client is taken */
static char client[ADDR_TEXT];	/* from the PROXY header; "" if none */
static pid_t child = -1;
static int rec_fd = -1, verdict_fd = -1, relay_fd = -1;
static struct login_record rec;	/* static: 4 KiB, and wiped after use */
static char tls_info[TLS_DESCRIPTION_MAX] = "no";
static struct timespec deadline;	/* of the AUTHORIZATION state */

/* Reads or writes exactly n bytes; EINTR is retried.  false on EOF or an
 * error: the other process is gone and the session with it; and for a
 * read, once limit (if not NULL) has passed. */
static bool read_full(int fd, void *buf, size_t n,
    const struct timespec *limit)
{
	for (size_t done = 0; done < n; ) {
		if (!io_wait(fd, POLLIN, limit))
			return false;
		ssize_t r = read(fd, (char *)buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

static bool write_full(int fd, const void *buf, size_t n)
{
	for (size_t done = 0; done < n; ) {
		ssize_t r = write(fd, (const char *)buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
	}
	return true;
}

/* What is left of the deadline, in whole seconds (rounded up). */
static int seconds_left(void)
{
	long long ms = io_ms_left(&deadline);
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

/* Behind a balancer a plaintext password crosses two lines: the client's
 * to the balancer and the balancer's to us.  Under --plaintext=secure both
 * must be local: the second was checked by the caller (the balancer is the
 * peer), the first is checked here; a client the header does not name is
 * not local.  Implicit TLS protects the password on both. */
static void policy_behind_proxy(struct policy *p, const struct ip_addr *c)
{
	if (cfg.plaintext_secure && cfg.tls != TLS_IMPLICIT &&
	    (!c || !addr_loopback(c)))
		p->plaintext_ok = false;
}

/* The PROXY header, before anything else is read or sent.  false: the
 * session ends here, without a greeting (proxy_end says how). */
static bool read_proxy_header(void)
{
	struct proxy_header h;
	int seconds = cfg.login_timeout < PROXY_TIMEOUT ? cfg.login_timeout :
	    PROXY_TIMEOUT;
	enum proxy_status s = proxy_read(0, seconds, &h);
	if (s == PROXY_LOCAL) {
		proxy_end = END_PROXY_LOCAL;
		return false;
	}
	if (s != PROXY_CLIENT && s != PROXY_UNKNOWN) {
		log_msg(LOG_NOTICE, "PROXY header refused peer=%s reason=%s%s%s",
		    cfg.peer, proxy_strerror(s), h.why ? ": " : "",
		    h.why ? h.why : "");
		proxy_end = END_PROXY_REFUSED;
		return false;
	}
	if (s == PROXY_CLIENT)
		addr_format(&h.client, client);
	policy_behind_proxy(&policy, s == PROXY_CLIENT ? &h.client : NULL);
	return true;
}

/* The first line, after the handshake for implicit TLS (RFC 8314 3.3); a
 * PROXY header before both. */
static void open_session(void)
{
	io_init(0, 1, cfg.timeout);
	io_set_deadline(&deadline);
	if (cfg.proxy && !read_proxy_header())
		return;
	if (cfg.tls == TLS_IMPLICIT && !start_tls()) {
		tls_failed = true;
		return;
	}
	io_puts(cfg.greeting);
}

/* AUTHORIZATION until credentials or the end; STLS is done here.  What the
 * client sent before the handshake is dropped unread (RFC 2595 section 4,
 * CVE-2011-0411): commands must not be injected into the TLS session. */
static enum session_end authorize(struct credentials *creds)
{
	if (proxy_end != END_LOGIN)
		return proxy_end;
	if (tls_failed)
		return END_TLS_FAILED;
	for (;;) {
		enum session_end end = session_authorize(&policy, creds);
		if (end != END_STARTTLS)
			return end;
		io_flush();
		io_discard_input();
		if (!start_tls())
			return END_TLS_FAILED;
	}
}

/* ---- the login process (unprivileged, chrooted) ----------------------- */

static _Noreturn void login_process(void)
{
	struct verdict v;
	open_session();
	for (;;) {
		memset(&rec, 0, sizeof(rec));
		rec.end = (int)authorize(&rec.creds);
		rec.tls = tls_active();
		tls_describe(rec.tls_info, sizeof(rec.tls_info));
		memcpy(rec.client, client, sizeof(rec.client));
		if (rec.end != END_LOGIN)
			io_flush();
		else {
			rec.pending = io_take_input(rec.input, sizeof(rec.input));
			rec.queued = io_copy_output(rec.output,
			    sizeof(rec.output));
		}
		rec.sent = io_sent();
		bool sent = write_full(rec_fd, &rec, sizeof(rec));
		explicit_bzero(&rec.creds, sizeof(rec.creds));
		if (!sent || rec.end != END_LOGIN || !read_full(verdict_fd, &v,
		    sizeof(v), NULL))
			break;
		if (v.ok) {
			if (tls_active())
				tls_relay(relay_fd, cfg.timeout);
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

/* mkdir -p, each new directory 0755: the chroot must be reachable by the
 * login account, and holds nothing. */
static bool make_dirs(const char *path)
{
	char p[PATH_MAX];
	if (path[0] != '/' || strlen(path) >= sizeof(p))
		return false;
	strcpy(p, path);
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0755) == 0)
			chmod(p, 0755);	/* umask is 077 */
		else if (errno != EEXIST)
			return false;
		*s = c;
		if (c == '\0')
			return true;
	}
}

/* The chroot: a directory owned by root that nobody else may change. */
static bool chroot_dir_ok(const char *dir)
{
	struct stat st;
	if (!make_dirs(dir) || lstat(dir, &st) < 0) {
		log_msg(LOG_ERR, "--login-chroot %s: cannot create: %s", dir,
		    strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
		log_msg(LOG_ERR, "--login-chroot %s: refused: not a directory "
		    "owned by root and writable only by root", dir);
		return false;
	}
	return true;
}

/* Into the chroot as the login account, for good.  Then the limits of a
 * process that needs no new process and must never dump a password into a
 * core file.  (No RLIMIT_FSIZE: the "client" or the -d log may be a file.) */
static bool drop_to(const struct passwd *pw)
{
	if (chroot(cfg.login_chroot) < 0 || chdir("/") < 0 ||
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

static bool start_separated(void)
{
	struct passwd *pw = getpwnam(cfg.login_user);
	if (!pw || pw->pw_uid == 0) {
		log_msg(LOG_ERR, "--login-user %s: %s", cfg.login_user,
		    pw ? "refused: it is root" : "no such account");
		return false;
	}
	if (!chroot_dir_ok(cfg.login_chroot))
		return false;
	/* Close-on-exec, like every fd pop3d opens: no program that a
	 * process runs later (liblockfile's dotlockfile) gets them. */
	int up[2], down[2], sp[2] = { -1, -1 };
	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0 ||
	    (cfg.tls != TLS_OFF && socketpair(AF_UNIX, SOCK_STREAM |
	    SOCK_CLOEXEC, 0, sp) < 0)) {
		log_msg(LOG_ERR, "pipe: %s", strerror(errno));
		return false;
	}
	tzset();	/* syslog's timestamps, before /etc is out of reach */
	child = fork();
	if (child < 0) {
		log_msg(LOG_ERR, "fork: %s", strerror(errno));
		return false;
	}
	if (child == 0) {
		close(up[0]);
		close(down[1]);
		if (sp[0] >= 0)
			close(sp[0]);
		rec_fd = up[1];
		verdict_fd = down[0];
		relay_fd = sp[1];
		if (!drop_to(pw)) {
			log_msg(LOG_CRIT, "login process: cannot chroot to %s "
			    "as %s: %s", cfg.login_chroot, cfg.login_user,
			    strerror(errno));
			_exit(1);
		}
		login_process();
	}
	close(up[1]);
	close(down[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	rec_fd = up[0];
	verdict_fd = down[1];
	relay_fd = sp[0];
	return true;
}

/* Separation needs a kernel that lets this process chroot and change uid:
 * the kernel is asked, since an LD_PRELOADed uid wrapper (cwrap, in the
 * tests) can make geteuid() say 0 to a process that is not root. */
static bool really_root(void)
{
#ifdef SYS_geteuid
	return syscall(SYS_geteuid) == 0;
#else
	return geteuid() == 0;
#endif
}

bool privsep_start(const struct privsep_config *c)
{
	cfg = *c;
	if (cfg.login_timeout <= 0 || cfg.login_timeout > cfg.timeout)
		cfg.login_timeout = cfg.timeout;
	io_deadline(&deadline, NULL, cfg.login_timeout * 1000LL);
	policy = c->policy;
	policy.stls = c->tls == TLS_STLS;
	if (c->tls == TLS_IMPLICIT)
		policy.plaintext_ok = true;
	separated = really_root();
	if (separated)
		return start_separated();
	log_msg(LOG_INFO, "not started as root: no privilege separation "
	    "before login");
	open_session();
	return true;
}

static void reap(void)
{
	if (child > 0)
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	child = -1;
}

/* How long the parent waits for the login process: the deadline (or now,
 * if that is later: a slow backend is not the client's time) plus the
 * grace in which a login process that met the deadline has said so. */
static struct timespec wait_limit(void)
{
	struct timespec t;
	io_deadline(&t, io_ms_left(&deadline) > 0 ? &deadline : NULL,
	    LOGIN_TIMEOUT_GRACE * 1000LL);
	return t;
}

/* The login process is done, or has to be: it has until limit to exit
 * (its end of the record pipe closes), then it is killed; then reaped.
 * NULL: it is killed at once. */
static void end_login_process(const struct timespec *limit)
{
	char junk[64];
	ssize_t n = 1;
	while (limit && io_wait(rec_fd, POLLIN, limit) && (n = read(rec_fd, junk,
	    sizeof(junk))) != 0)
		if (n < 0 && errno != EINTR)
			break;
	if (n != 0 && child > 0)
		kill(child, SIGKILL);
	reap();
}

/* A record the parent may act on: an end it knows, terminated strings, a
 * login method this connection offers and a count that fits.  Anything
 * else is treated as a broken connection.  Every field of struct
 * credentials must be checked here, and none may be a pointer: the login
 * process is not trusted with root's memory. */
static bool record_ok(const struct login_record *r)
{
	const char *t = r->tls_info;
	if (r->end < END_LOGIN || r->end > END_PROXY_MISPLACED ||
	    (r->tls && cfg.tls == TLS_OFF) ||
	    !tls_description_ok(t, sizeof(r->tls_info)) ||
	    (r->tls ? strcmp(t, "no") == 0 :
	    strcmp(t, "no") != 0) || r->sent > MAX_LOGIN_SENT)
		return false;
	const char *m = r->creds.method;
	bool plaintext = strcmp(m, "USER") == 0 || strcmp(m, "PLAIN") == 0;
	return r->end != END_LOGIN ||
	    (((plaintext && (r->tls || policy.plaintext_ok)) ||
	    (strcmp(m, "APOP") == 0 && policy.apop)) &&
	    memchr(r->creds.user, '\0', sizeof(r->creds.user)) &&
	    memchr(r->creds.pass, '\0', sizeof(r->creds.pass)) &&
	    r->pending <= sizeof(r->input) && r->queued <= sizeof(r->output));
}

/* The record's client address: sent only after a PROXY header from a
 * trusted peer was accepted, a numeric address in its canonical text (the
 * login process is not trusted to say more), the same in every record.
 * The policy then follows it, as the login process's did. */
static bool take_client(const struct login_record *r)
{
	if (!memchr(r->client, '\0', sizeof(r->client)))
		return false;
	bool before_header = r->end == END_PROXY_REFUSED ||
	    r->end == END_PROXY_LOCAL;
	if (!cfg.proxy || before_header)
		return !r->client[0] && (cfg.proxy || !before_header);
	if (proxy_checked)
		return strcmp(r->client, client) == 0;
	struct ip_addr a;
	if (r->client[0]) {
		if (!addr_parse(r->client, &a))
			return false;
		addr_format(&a, client);
		if (strcmp(client, r->client) != 0)
			return false;
	}
	policy_behind_proxy(&policy, r->client[0] ? &a : NULL);
	proxy_checked = true;
	return true;
}

enum session_end privsep_next(struct credentials *creds)
{
	if (!separated) {
		enum session_end end = authorize(creds);
		tls_describe(tls_info, sizeof(tls_info));
		return end;
	}
	struct timespec limit = wait_limit();
	if (!read_full(rec_fd, &rec, sizeof(rec), &limit)) {
		bool late = io_ms_left(&limit) <= 0;
		if (late)
			log_msg(LOG_NOTICE, "login process: no login by the "
			    "deadline (--login-timeout): killed");
		client[0] = '\0';
		explicit_bzero(&rec, sizeof(rec));
		end_login_process(NULL);
		return late ? END_TIMEOUT : END_IOERR;
	}
	if (!take_client(&rec) || !record_ok(&rec)) {
		log_msg(LOG_ERR, "login process: malformed login record: "
		    "killed");
		client[0] = '\0';
		explicit_bzero(&rec, sizeof(rec));
		end_login_process(NULL);
		return END_IOERR;
	}
	memcpy(tls_info, rec.tls_info, sizeof(tls_info));
	*creds = rec.creds;
	explicit_bzero(&rec.creds, sizeof(rec.creds));
	if (rec.end != END_LOGIN) {
		limit = wait_limit();
		end_login_process(&limit);
	}
	return (enum session_end)rec.end;
}

void privsep_refuse(const char *reply, bool last)
{
	if (!separated) {
		io_puts(reply);
		if (last)
			io_flush();
		return;
	}
	struct verdict v = { .ok = false, .last = last };
	strncpy(v.reply, reply, sizeof(v.reply) - 1);
	if (write_full(verdict_fd, &v, sizeof(v)) && last) {
		struct timespec limit = wait_limit();
		end_login_process(&limit);  /* it exits once the reply is sent */
	}
}

/* At exit: the relay sees the end of the session, sends what is left and
 * close_notify; the connection ends when it does. */
static void finish_relay(void)
{
	shutdown(relay_fd, SHUT_RDWR);
	close(relay_fd);
	reap();
}

const char *privsep_tls(void)
{
	return tls_info;
}

const char *privsep_client(void)
{
	return client[0] ? client : NULL;
}

bool privsep_accept(void)
{
	if (!separated) {
		if (tls_active())
			atexit(tls_close);
		io_set_timeout(cfg.timeout);
		io_set_deadline(NULL);
		return true;
	}
	struct verdict v = { .ok = true };
	bool ok = write_full(verdict_fd, &v, sizeof(v));
	if (rec.tls) {	/* what the login process's policy became */
		policy.stls = false;
		policy.plaintext_ok = true;
	}
	if (rec.tls) {
		/* The user's process never sees a TLS record: the socket is
		 * the relay's alone. */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
			ok = false;
		if (null > 1)
			close(null);
		io_init(relay_fd, relay_fd, cfg.timeout);
		atexit(finish_relay);
		relaying = true;
	} else {
		/* It exits at once: then the socket is ours alone. */
		struct timespec limit = wait_limit();
		end_login_process(&limit);
		if (relay_fd >= 0)
			close(relay_fd);
		io_init(0, 1, cfg.timeout);
	}
	close(rec_fd);
	close(verdict_fd);
	io_add_sent(rec.sent);
	io_put(rec.output, rec.queued);
	ok = ok && io_preload(rec.input, rec.pending);
	explicit_bzero(&rec, sizeof(rec));
	return ok;
}

bool privsep_separated(void)
{
	return separated;
}

int privsep_link(pid_t *login, struct policy *p)
{
	*login = child;
	*p = policy;
	return relaying ? relay_fd : -1;
}

const struct policy *privsep_policy(void)
{
	return &policy;
}

void privsep_resume(int relay, pid_t login, int timeout)
{
	if (relay < 0) {
		io_init(0, 1, timeout);
		return;
	}
	relay_fd = relay;
	child = login;
	io_init(relay, relay, timeout);
	atexit(finish_relay);
}
