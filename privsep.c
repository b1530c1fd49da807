/*
 * privsep.c: the root parent's side of the login process.  See privsep.h;
 * login.h has the records that cross the pipes.
 *
 * Runs in: the root parent.
 *
 * The parent checks every field of a login record (a compromised login
 * process is just another client), sleeps the failure delay before it
 * answers, and counts the failures itself: the throttle does not depend on
 * the login process.  Nor does the login deadline (--login-timeout, from
 * the start to a login): the login process keeps it, and the parent waits
 * for a record no longer than the deadline plus LOGIN_TIMEOUT_GRACE, then
 * kills it.  A record the parent refuses ends the login process the same
 * way.
 */
/* pipe2, SOCK_CLOEXEC (Linux, the BSDs; POSIX.1-2024). */
#define _GNU_SOURCE
#include "privsep.h"
#include "login.h"
#include "fdio.h"
#include "addr.h"
#include "io.h"
#include "log.h"
#include "params.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct login_config cfg;
static struct policy policy;
static bool separated, relaying;
static bool proxy_checked;	/* the first record's client is taken */
static char client[ADDR_TEXT];	/* from the PROXY header; "" if none */
static pid_t child = -1;
static int rec_fd = -1, verdict_fd = -1, relay_fd = -1;
static struct login_record rec;	/* static: 8 KiB, and wiped after use */
static char tls_info[TLS_DESCRIPTION_MAX] = "no";

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
		login_run(&cfg, pw, up[1], down[0], sp[1]);
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

bool privsep_start(const struct login_config *c)
{
	cfg = *c;
	if (cfg.login_timeout <= 0 || cfg.login_timeout > cfg.timeout)
		cfg.login_timeout = cfg.timeout;
	io_deadline(&cfg.deadline, NULL, cfg.login_timeout * 1000LL);
	cfg.policy.stls = c->tls == TLS_STLS;
	if (c->tls == TLS_IMPLICIT)
		cfg.policy.plaintext_ok = true;
	/* Implicit TLS protects the password on both lines. */
	cfg.plaintext_secure = c->plaintext_secure && c->tls != TLS_IMPLICIT;
	policy = cfg.policy;
	separated = really_root();
	if (separated)
		return start_separated();
	log_msg(LOG_INFO, "not started as root: no privilege separation "
	    "before login");
	login_open(&cfg);
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
	io_deadline(&t, io_ms_left(&cfg.deadline) > 0 ? &cfg.deadline : NULL,
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
static bool record_valid(const struct login_record *r)
{
	const char *t = r->tls_info;
	if (r->end < END_LOGIN || r->end > END_PROXY_MISPLACED ||
	    (r->tls && cfg.tls == TLS_OFF) ||
	    !log_word_ok(t, sizeof(r->tls_info)) ||
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
	/* The rule login.c's read_proxy_header applies. */
	if (cfg.plaintext_secure && !(r->client[0] && addr_loopback(&a)))
		policy.plaintext_ok = false;
	proxy_checked = true;
	return true;
}

enum session_end privsep_next(struct credentials *creds)
{
	struct timespec limit = wait_limit();
	if (!separated)
		login_attempt(&rec, false);
	else if (!io_fd_read(rec_fd, &rec, sizeof(rec), &limit)) {
		bool late = io_ms_left(&limit) <= 0;
		if (late)
			log_msg(LOG_NOTICE, "login process: no login by the "
			    "deadline (--login-timeout): killed");
		client[0] = '\0';
		explicit_bzero(&rec, sizeof(rec));
		end_login_process(NULL);
		return late ? END_TIMEOUT : END_IOERR;
	}
	if (!take_client(&rec) || !record_valid(&rec)) {
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
	if (separated && rec.end != END_LOGIN) {
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
	if (fdio_write_all(verdict_fd, &v, sizeof(v)) && last) {
		struct timespec limit = wait_limit();
		end_login_process(&limit);  /* it exits once the reply is sent */
	}
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
	if (rec.tls) {	/* what the login process's policy became */
		policy.stls = false;
		policy.plaintext_ok = true;
	}
	if (!separated) {
		if (tls_active())
			atexit(tls_close);
		io_set_timeout(cfg.timeout);
		io_set_deadline(NULL);
		return true;
	}
	struct verdict v = { .ok = true };
	bool ok = fdio_write_all(verdict_fd, &v, sizeof(v));
	if (rec.tls) {
		/* The user's process never sees a TLS record: the socket is
		 * the relay's alone. */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
			ok = false;
		if (null > 1)
			close(null);
		io_init_relay(relay_fd, child, cfg.timeout);
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
