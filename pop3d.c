/*
 * pop3d.c: the entry point, the options, and the root parent's part of a
 * session: the login loop and the start of the user's session.
 *
 * Runs in: the root parent.
 * (privs_start_session returns in the process that is the user, which
 * here only hands over: hand_over.)
 *
 * One pop3d serves one connection on fd 0/1 (inetd, xinetd, tcpserver,
 * systemd Accept=yes) and exits.  Started as root, its processes and the
 * files that run in each (popa3d's model):
 *
 *   root parent      pop3d.c, privs.c, handover.c; auth*.c, apop.c, tls.c's
 *                    configuration: options, keys, authentication, the
 *                    failure delay and count.  Reads only the login process's
 *                    fixed-size record (privsep.h), never the client.
 *   login process    chrooted to --login-chroot as --login-user (nobody):
 *                    the PROXY header, TLS, the greeting, AUTHORIZATION;
 *                    with TLS it stays as the relay (privsep.c, proxy.c,
 *                    tls.c, session.c's AUTHORIZATION)
 *   PAM monitor      root, forked at the start of the session: closes the
 *                    PAM session at its end (privs.c)
 *   user's session   a fresh image, the program pop3d-session, as the user for
 *                    good: the state directory, the mailbox, TRANSACTION
 *                    and UPDATE (user.c, session.c, mailbox.c, update.c ...)
 *
 * So no byte from the network is parsed by root or by a process that can
 * read a mailbox before a login has succeeded, and root never parses a TLS
 * record.  Started by an ordinary user, pop3d cannot separate privileges:
 * everything runs in one process as that user (logged), and it serves only
 * that user's own mail.  Accounts below --min-uid, and uid 0 always, are
 * never served.  fd 2 may be the client's socket under inetd: startup
 * errors go there only when it is not a socket, and then it is pointed at
 * /dev/null unless -d is given (log.h).
 */
#include "addr.h"
#include "apop.h"
#include "auth.h"
#include "auth_pam.h"
#include "handover.h"
#include "io.h"
#include "log.h"
#include "mailbox.h"
#include "params.h"
#include "lock.h"
#include "privsep.h"
#include "privs.h"
#include "session.h"
#include "tls.h"
#include "uidl.h"
#include "user.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct {
	const char *mailbox;
	struct privs_config privs;	/* --state-dir, --state-base,
					 * --lock-group */
	enum uidl_mode uidl;
	const char *auth;
	int timeout;
	int login_timeout;	/* at most timeout */
	const char *apop;
	long long max_messages;
	long long max_bytes;
	enum { PLAIN_SECURE, PLAIN_ALWAYS, PLAIN_NEVER } plaintext;
	int debug;
	struct tls_config tls;
	const char *login_user;
	const char *login_chroot;
	const char *pam_service;
	bool pam_session;
	unsigned long min_uid;
	struct ip_net proxy_trusted[PROXY_TRUSTED_MAX];
	size_t proxy_trusted_count;
} opt = {
	.login_user = DEFAULT_LOGIN_USER,
	.login_chroot = DEFAULT_LOGIN_CHROOT,
	.mailbox = DEFAULT_MAILBOX,
	.privs.state_base = DEFAULT_STATE_BASE,
	.auth = "pam",
	.timeout = DEFAULT_TIMEOUT,
	.login_timeout = DEFAULT_LOGIN_TIMEOUT,
	.max_messages = DEFAULT_MAX_MESSAGES,
	.max_bytes = DEFAULT_MAX_MAILBOX_BYTES,
	.plaintext = PLAIN_SECURE,
	.pam_service = DEFAULT_PAM_SERVICE,
	.min_uid = DEFAULT_MIN_UID,
};

static char peer[ADDR_TEXT] = "local";

static void usage(FILE *f)
{
	fprintf(f,
	    "Usage: pop3d [OPTION]...\n"
	    "Serve one POP3 session on standard input and output.\n\n"
	    "  -m, --mailbox=PATTERN   the user's mbox: %%u user, %%h home, %%%% a '%%'\n"
	    "                          (default %s)\n"
	    "      --state-dir=PATTERN pop3d's own files (session lock, UPDATE\n"
	    "                          journal): %%u, %%h, %%d the mailbox's directory,\n"
	    "                          %%%%; default %s, else (started as root)\n"
	    "                          the --state-base one, or %s\n"
	    "      --state-base=DIR    started as root, where the state directory\n"
	    "                          of a user whose home cannot hold one is\n"
	    "                          made: DIR/USER (default %s)\n"
	    "      --uidl=MODE         pop3d (default), or reuse the UIDLs of another\n"
	    "                          server: xuidl, uw, dovecot, popa3d (see README)\n"
	    "  -a, --auth=BACKEND      pam (default) or file:PATH\n"
	    "  -s, --pam-service=NAME  the PAM service (default %s)\n"
	    "      --pam-session       open a PAM session for each login (the\n"
	    "                          session stack); default: credentials only\n"
	    "      --min-uid=UID       refuse accounts below UID (default %d;\n"
	    "                          uid 0 is always refused)\n"
	    "      --lock-group=GROUP  keep GROUP as the saved group ID, for\n"
	    "                          dotlocks in the mail spool (default none)\n"
	    "  -t, --timeout=SECONDS   idle autologout (default %d)\n"
	    "      --login-timeout=SECONDS  the most time from connecting to a login,\n"
	    "                          however busy the client (default %d, at\n"
	    "                          most the -t value)\n"
	    "      --plaintext=WHEN    secure (default), always or never: when\n"
	    "                          USER/PASS and AUTH PLAIN are accepted\n"
	    "      --apop=FILE         accept APOP with the user:secret lines of\n"
	    "                          FILE (mode 600, owned by root or the user)\n"
	    "      --max-messages=N    refuse to serve a mailbox of more messages\n"
	    "                          (default %d)\n"
	    "      --max-mailbox-size=BYTES  refuse to serve a larger mailbox; K, M,\n"
	    "                          G suffixes (default %lldG)\n"
	    "      --tls=MODE          off (default), stls (RFC 2595 STLS) or\n"
	    "                          implicit (TLS from the first byte, port 995)\n"
	    "      --tls-cert=FILE     PEM certificate chain, leaf first\n"
	    "      --tls-key=FILE      PEM private key (root's, mode 600 or 640)\n"
	    "      --tls-ciphers=LIST  OpenSSL cipher list for TLS 1.2\n"
	    "      --tls-min=VERSION   1.2 (default) or 1.3\n"
	    "      --login-user=NAME   the account that reads the client before\n"
	    "                          login when started as root (default %s)\n"
	    "      --login-chroot=DIR  its empty root directory, made when missing\n"
	    "                          (default %s)\n"
	    "      --proxy-trusted=ADDR[/BITS][,...]  balancers that send a PROXY\n"
	    "                          protocol header (v1 or v2) first, and must\n"
	    "                          (default none)\n"
	    "  -d, --debug             also log to standard error\n"
	    "  -V, --version           print the version and exit\n"
	    "  -h, --help              print this help and exit\n",
	    DEFAULT_MAILBOX, DEFAULT_STATE_DIR, FALLBACK_STATE_DIR,
	    DEFAULT_STATE_BASE,
	    DEFAULT_PAM_SERVICE, DEFAULT_MIN_UID, DEFAULT_TIMEOUT,
	    DEFAULT_LOGIN_TIMEOUT, DEFAULT_MAX_MESSAGES, DEFAULT_MAX_MAILBOX_BYTES >> 30,
	    DEFAULT_LOGIN_USER, DEFAULT_LOGIN_CHROOT);
}

/* A decimal number in [min, max]; false for anything else. */
static bool parse_number(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max || s[0] == '-' ||
	    s[0] == '+' || s[0] == ' ')
		return false;
	*out = v;
	return true;
}

/* A byte count with an optional K, M or G suffix (powers of 1024). */
static bool parse_size(const char *s, long long *out)
{
	char digits[32];
	size_t n = strlen(s);
	int shift = 0;
	if (n > 0 && strchr("KMG", s[n - 1])) {
		shift = s[n - 1] == 'K' ? 10 : s[n - 1] == 'M' ? 20 : 30;
		n--;
	}
	long v;
	if (n == 0 || n >= sizeof(digits))
		return false;
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (!parse_number(digits, 1, 1L << 40, &v))
		return false;
	*out = (long long)v << shift;
	return *out <= (1LL << 50);
}

/* The client's one line when pop3d cannot start: short, and nothing of
 * the configuration in it (the log has that). */
static const char startup_reply[] =
    "-ERR [SYS/TEMP] the server is not configured correctly, try later\r\n";

/* pop3d cannot start: the client, when there is one (fd 1 a socket, as
 * under inetd), gets startup_reply and no usage text; the reason was
 * logged (log.h: syslog, and stderr unless that is the client's socket). */
__attribute__((noreturn)) static void startup_failed(int status)
{
	struct stat st;
	if (fstat(1, &st) == 0 && S_ISSOCK(st.st_mode)) {
		ssize_t n = write(1, startup_reply, sizeof(startup_reply) - 1);
		(void)n;	/* a client that is gone needs nothing more */
	}
	exit(status);
}

/* A word from the command line, fit for a log line (it may be anything). */
static const char *quoted(const char *word)
{
	static char buf[4 * 128 + 1];
	return log_escape(word, buf, sizeof(buf));
}

/* Every option error: "bad --NAME: " and what is wrong, which names the
 * value given (quoted()) and the values that would do; with name NULL, an
 * error of no one option's value (a combination, a word that is no
 * option), said as it is.  Logged (log.h), then startup_failed. */
__attribute__((noreturn, format(printf, 2, 3)))
static void bad_option(const char *name, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (name)
		log_msg(LOG_ERR, "bad --%s: %s", name, why);
	else
		log_msg(LOG_ERR, "%s", why);
	startup_failed(2);
}

/* Long-only options: codes past any character, so no short option and no
 * other long-only option can collide with them. */
enum {
	OPT_TLS = 0x100, OPT_TLS_CERT, OPT_TLS_KEY, OPT_TLS_CIPHERS, OPT_TLS_MIN,
	OPT_LOGIN_USER, OPT_LOGIN_CHROOT, OPT_LOGIN_TIMEOUT, OPT_APOP,
	OPT_MAX_MESSAGES, OPT_MAX_SIZE, OPT_PROXY_TRUSTED, OPT_STATE_BASE,
	OPT_PAM_SESSION,
};
/* --lock-group: a group name or number that must exist. */
static void set_lock_group(const char *name)
{
	struct group *gr = getgrnam(name);
	long n;
	if (gr && gr->gr_gid == 0)
		bad_option("lock-group", "%s (not group 0)", quoted(name));
	opt.privs.lock_group = true;
	if (gr)
		opt.privs.lock_gid = gr->gr_gid;
	else if (parse_number(name, 1, 0x7fffffffL, &n))
		opt.privs.lock_gid = (gid_t)n;
	else
		bad_option("lock-group", "no group %s (a group name or "
		    "number)", quoted(name));
}

/* Settings that only mean something together with others: an option that
 * would be ignored is a mistake the admin should hear of. */
static void check_combinations(bool pam_service_set)
{
	const char *tls_only = opt.tls.cert ? "tls-cert" : opt.tls.key ?
	    "tls-key" : opt.tls.ciphers ? "tls-ciphers" : opt.tls.min ?
	    "tls-min" : NULL;
	if (tls_only && opt.tls.mode == TLS_OFF)
		bad_option(NULL, "--%s needs --tls=stls or --tls=implicit",
		    tls_only);
	if (opt.tls.mode != TLS_OFF && (!opt.tls.cert || !opt.tls.key))
		bad_option(NULL, "--tls=%s needs --tls-cert and --tls-key (missing: "
		    "%s)", opt.tls.mode == TLS_STLS ? "stls" : "implicit",
		    !opt.tls.cert && !opt.tls.key ? "both" : !opt.tls.cert ?
		    "--tls-cert" : "--tls-key");
	if (strcmp(opt.auth, "pam") != 0 && (pam_service_set || opt.pam_session))
		bad_option(NULL, "--%s needs --auth=pam", pam_service_set ?
		    "pam-service" : "pam-session");
}

/* A --mailbox or --state-dir pattern that can name a file: an absolute
 * path (it starts with '/', %h, or for --state-dir %d), only the escapes
 * expand() knows, and no '~', which no shell expands here.  A typo would
 * otherwise show every user an empty mailbox without a word. */
static void check_pattern(const char *name, const char *pattern, bool dir)
{
	const char *escapes = dir ? "%u, %h, %d or %%" : "%u, %h or %%";
	if (pattern[0] == '~')
		bad_option(name, "%s (~ is not expanded: write %%h for the home "
		    "directory)", quoted(pattern));
	for (const char *p = pattern; *p; p++) {
		if (*p != '%')
			continue;
		p++;
		if (strncmp(p, "user", 4) == 0 || strncmp(p, "home", 4) == 0)
			bad_option(name, "%s (%%%.4s is %%%c followed by \"%.3s\": "
			    "write %%%c)", quoted(pattern), p, *p, p + 1, *p);
		if (*p == '\0')
			bad_option(name, "%s (a %% at the end: write %%%% for a "
			    "%%)", quoted(pattern));
		if (!strchr(dir ? "uhd%" : "uh%", *p))
			bad_option(name, "%s (unknown escape %%%c: %s)",
			    quoted(pattern), *p > ' ' && *p < 0x7f ? *p : '?',
			    escapes);
	}
	if (pattern[0] != '/' && strncmp(pattern, "%h", 2) != 0 &&
	    !(dir && strncmp(pattern, "%d", 2) == 0))
		bad_option(name, "%s (a relative path: start it with %s)",
		    quoted(pattern), dir ? "/, %h or %d" : "/ or %h");
}

static void parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mailbox", required_argument, NULL, 'm' },
		{ "auth", required_argument, NULL, 'a' },
		{ "pam-service", required_argument, NULL, 's' },
		{ "pam-session", no_argument, NULL, OPT_PAM_SESSION },
		{ "min-uid", required_argument, NULL, 'U' },
		{ "lock-group", required_argument, NULL, 'G' },
		{ "timeout", required_argument, NULL, 't' },
		{ "plaintext", required_argument, NULL, 'P' },
		{ "login-timeout", required_argument, NULL, OPT_LOGIN_TIMEOUT },
		{ "apop", required_argument, NULL, OPT_APOP },
		{ "max-messages", required_argument, NULL, OPT_MAX_MESSAGES },
		{ "max-mailbox-size", required_argument, NULL, OPT_MAX_SIZE },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "state-base", required_argument, NULL, OPT_STATE_BASE },
		{ "uidl", required_argument, NULL, 'I' },
		{ "tls", required_argument, NULL, OPT_TLS },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "tls-ciphers", required_argument, NULL, OPT_TLS_CIPHERS },
		{ "tls-min", required_argument, NULL, OPT_TLS_MIN },
		{ "login-user", required_argument, NULL, OPT_LOGIN_USER },
		{ "login-chroot", required_argument, NULL, OPT_LOGIN_CHROOT },
		{ "proxy-trusted", required_argument, NULL, OPT_PROXY_TRUSTED },
		{ "debug", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	long n;
	bool pam_service_set = false;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:a:s:t:dVh", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'm':
			opt.mailbox = optarg;
			break;
		case 'a':
			if (strcmp(optarg, "pam") != 0 &&
			    (strncmp(optarg, "file:", 5) != 0 || !optarg[5]))
				bad_option("auth", "%s (pam or file:PATH)",
				    quoted(optarg));
			opt.auth = optarg;
			break;
		case 's':
			if (!optarg[0] || strchr(optarg, '/'))
				bad_option("pam-service", "%s (a file name in "
				    "/etc/pam.d)", quoted(optarg));
			opt.pam_service = optarg;
			pam_service_set = true;
			break;
		case OPT_PAM_SESSION:
			opt.pam_session = true;
			break;
		case 'U':
			if (!parse_number(optarg, 0, 0x7fffffffL, &n))
				bad_option("min-uid", "%s (a uid, 0 to "
				    "2147483647)", quoted(optarg));
			opt.min_uid = (unsigned long)n;
			break;
		case 'G':
			set_lock_group(optarg);
			break;
		case 't':
			if (!parse_number(optarg, 1, 86400 * 7, &n))
				bad_option("timeout", "%s (seconds, 1 to "
				    "604800)", quoted(optarg));
			opt.timeout = (int)n;
			break;
		case OPT_LOGIN_TIMEOUT:
			if (!parse_number(optarg, 1, 86400 * 7, &n))
				bad_option("login-timeout", "%s (seconds, 1 "
				    "to 604800)", quoted(optarg));
			opt.login_timeout = (int)n;
			break;
		case OPT_APOP:
			opt.apop = optarg;
			break;
		case OPT_MAX_MESSAGES:
			if (!parse_number(optarg, 1, MAX_MESSAGES_LIMIT, &n))
				bad_option("max-messages", "%s (a number, 1 "
				    "to %ld)", quoted(optarg), MAX_MESSAGES_LIMIT);
			opt.max_messages = n;
			break;
		case OPT_MAX_SIZE:
			if (!parse_size(optarg, &opt.max_bytes))
				bad_option("max-mailbox-size", "%s (bytes, "
				    "or with a K, M or G suffix)", quoted(optarg));
			break;
		case 'P':
			if (strcmp(optarg, "secure") == 0)
				opt.plaintext = PLAIN_SECURE;
			else if (strcmp(optarg, "always") == 0)
				opt.plaintext = PLAIN_ALWAYS;
			else if (strcmp(optarg, "never") == 0)
				opt.plaintext = PLAIN_NEVER;
			else
				bad_option("plaintext", "%s (secure, always "
				    "or never)", quoted(optarg));
			break;
		case 'S':
			opt.privs.state_dir = optarg;
			break;
		case OPT_STATE_BASE:
			if (optarg[0] != '/' || strlen(optarg) > PATH_MAX / 2)
				bad_option("state-base", "%s (an absolute path)",
				    quoted(optarg));
			opt.privs.state_base = optarg;
			break;
		case 'I':
			if (!uidl_parse_mode(optarg, &opt.uidl))
				bad_option("uidl", "%s (pop3d, xuidl, uw, "
				    "dovecot or popa3d)", quoted(optarg));
			break;
		case OPT_TLS:
			if (strcmp(optarg, "off") == 0)
				opt.tls.mode = TLS_OFF;
			else if (strcmp(optarg, "stls") == 0)
				opt.tls.mode = TLS_STLS;
			else if (strcmp(optarg, "implicit") == 0)
				opt.tls.mode = TLS_IMPLICIT;
			else
				bad_option("tls", "%s (off, stls or implicit)",
				    quoted(optarg));
			break;
		case OPT_TLS_CERT:
			opt.tls.cert = optarg;
			break;
		case OPT_TLS_KEY:
			opt.tls.key = optarg;
			break;
		case OPT_TLS_CIPHERS:
			opt.tls.ciphers = optarg;
			break;
		case OPT_TLS_MIN:
			if (strcmp(optarg, "1.2") != 0 && strcmp(optarg, "1.3") != 0)
				bad_option("tls-min", "%s (1.2 or 1.3)",
				    quoted(optarg));
			opt.tls.min = optarg;
			break;
		case OPT_LOGIN_USER:
			opt.login_user = optarg;
			break;
		case OPT_LOGIN_CHROOT:
			opt.login_chroot = optarg;
			break;
		case OPT_PROXY_TRUSTED:
			opt.proxy_trusted_count = addr_nets_parse(optarg,
			    opt.proxy_trusted, PROXY_TRUSTED_MAX);
			if (opt.proxy_trusted_count == 0)
				bad_option("proxy-trusted", "%s (want ADDR[/BITS]"
				    "[,ADDR[/BITS]]..., numeric IPv4 or IPv6, at "
				    "most %d)", quoted(optarg), PROXY_TRUSTED_MAX);
			break;
		case 'd':
			opt.debug = 1;
			log_debug();
			break;
		case 'V':
			printf("pop3d " POP3D_VERSION "\n");
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			bad_option(NULL, "option %s needs a value",
			    quoted(argv[optind - 1]));
		default:	/* getopt's own messages would go to fd 2 */
			bad_option(NULL, "unknown option %s (pop3d --help lists "
			    "the options)", optopt ? quoted((char[]){ '-',
			    (char)optopt, '\0' }) : quoted(argv[optind - 1]));
		}
	}
	if (optind != argc)
		bad_option(NULL, "unexpected word \"%s\": pop3d takes options "
		    "only (a word left over in inetd.conf or server_args, or "
		    "an option without its --?)", quoted(argv[optind]));
	check_pattern("mailbox", opt.mailbox, false);
	if (opt.privs.state_dir && opt.privs.state_dir[0])	/* "": none */
		check_pattern("state-dir", opt.privs.state_dir, true);
	check_combinations(pam_service_set);
	if (opt.login_timeout > opt.timeout)
		opt.login_timeout = opt.timeout;
}

/* fds 0-2 exist, and no other (before syslog opens its socket).  fd 2 is
 * left as it is until the end of startup (log_started). */
static void setup_fds(void)
{
	int fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		exit(1);
	while (fd <= 2 && fd >= 0)
		fd = dup(fd);
	close(fd);
	io_close_inherited(2);
}

/* Who is on the other end (its address in *addr when it has one), and is
 * the line safe for a plaintext password: loopback, a Unix socket or no
 * socket at all (a pipe, a terminal). */
static bool find_peer(struct ip_addr *addr, bool *has_addr)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	*has_addr = false;
	memset(addr, 0, sizeof(*addr));
	if (getpeername(0, (struct sockaddr *)&ss, &len) < 0) {
		const char *ip = getenv("TCPREMOTEIP");
		if (errno == ENOTSOCK && ip && addr_parse(ip, addr)) {
			*has_addr = true;
			addr_format(addr, peer);
		}
		return errno == ENOTSOCK;
	}
	if (ss.ss_family == AF_INET) {
		addr->family = AF_INET;
		memcpy(addr->bytes, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else if (ss.ss_family == AF_INET6) {
		addr->family = AF_INET6;
		memcpy(addr->bytes, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	} else {
		snprintf(peer, sizeof(peer), "local");
		return ss.ss_family == AF_UNIX;
	}
	*has_addr = true;
	addr_format(addr, peer);
	return addr_loopback(addr);
}

/* A user name that is safe in a path and a log line. */
static bool valid_user_name(const char *u)
{
	if (u[0] == '\0' || u[0] == '.' || u[0] == '-' || strlen(u) > MAX_USER)
		return false;
	for (const unsigned char *p = (const unsigned char *)u; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '/' || *p == ':')
			return false;
	return true;
}

/* After a login: the session cannot be served (user.h). */
static int refuse_session(const char *who, bool for_state)
{
	user_refuse(who, peer, for_state);
	auth_session_close();
	return 1;
}

/* Checks the credentials the way their method says; on AUTH_OK acct is the
 * account to serve.  APOP proves a shared secret, and the account comes
 * from the authentication backend without a password. */
static enum auth_result authenticate(const struct credentials *c,
    struct account *acct)
{
	if (!valid_user_name(c->user))
		return AUTH_FAIL;
	if (strcmp(c->method, "APOP") != 0)
		return auth_login(c->user, c->pass, acct);
	enum auth_result r = apop_check(c->user, c->pass);
	if (r != AUTH_OK)
		return r;
	r = auth_account(c->user, acct);
	if (r == AUTH_FAIL)
		log_msg(LOG_ERR, "APOP secret of user=%s is right, but the account "
		    "is not in the --auth backend", c->user);
	return r;
}

/* Why pop3d refuses an account its backend accepted; NULL if it does not.
 * These count as failed logins and get the same reply, so that they do
 * not tell a password guesser that the password was right. */
static const char *account_refused(const struct account *a)
{
	if (a->has_ids && a->uid == 0)
		return "uid 0 is never served";
	if (a->has_ids && a->uid < opt.min_uid)
		return "uid below --min-uid";
	if (geteuid() == 0 && !a->has_ids)
		return "no uid:gid to serve it as";
	if (geteuid() != 0 && a->has_ids && a->uid != getuid())
		return "not the account pop3d runs as";
	return NULL;
}

/* Started as an ordinary user, the PAM backend can only serve that user:
 * any other name is refused before PAM is asked. */
static bool other_than_self(const char *user)
{
	if (geteuid() == 0 || !auth_is_pam())
		return false;
	struct passwd *pw = getpwuid(getuid());
	return !pw || strcmp(pw->pw_name, user) != 0;
}

/* Behind a balancer the client's address from its PROXY header is the
 * peer: in the log, for PAM (PAM_RHOST) and for fail2ban. */
static void use_client(const char *client)
{
	if (client && strcmp(client, peer) != 0) {
		snprintf(peer, sizeof(peer), "%s", client);
		auth_pam_set_rhost(peer);
	}
}

/* Sleeps until ms after t0 (CLOCK_MONOTONIC): a failed login then takes
 * the same time however long the backend took to say no. */
static void pause_until(const struct timespec *t0, long ms)
{
	struct timespec ts;
	io_deadline(&ts, t0, ms);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

/* Started as root, once the session process is the user: pop3d again,
 * with what the user's part needs (handover.h).  Returns only on failure. */
static void hand_over(const struct account *a, const char *path,
    const struct state_plan *plan, const char *method, int failures)
{
	static struct handover h;
	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", a->name);
	h.uid = a->uid;
	h.gid = a->gid;
	h.lock_group = opt.privs.lock_group;
	h.lock_gid = opt.privs.lock_gid;
	snprintf(h.mailbox, sizeof(h.mailbox), "%s", path);
	h.plan = *plan;
	h.uidl = (int)opt.uidl;
	h.timeout = opt.timeout;
	h.debug = opt.debug;
	h.max_messages = opt.max_messages;
	h.max_bytes = opt.max_bytes;
	snprintf(h.peer, sizeof(h.peer), "%s", peer);
	snprintf(h.method, sizeof(h.method), "%s", method);
	h.relay = privsep_link(&h.login_pid, &h.policy);
	h.pending = io_take_input(h.input, sizeof(h.input));
	h.queued = io_copy_output(h.output, sizeof(h.output));
	snprintf(h.session, sizeof(h.session), "%s", log_session_id());
	h.start_ms = log_session_start_ms();
	h.sent = io_sent();
	snprintf(h.tls, sizeof(h.tls), "%s", privsep_tls());
	h.failures = failures;
	handover_exec(&h);
}

/* Root's startup: the configuration read and checked (keys, password
 * files), the login process started.  Returns only when it all worked. */
static void start(int argc, char **argv)
{
	setup_fds();
	log_open(0);
	parse_options(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	if (!auth_configure(opt.auth) || !tls_configure(&opt.tls) ||
	    (opt.apop && !apop_configure(opt.apop)))
		startup_failed(2);	/* each says why in the log */
	log_started();
	struct ip_addr peer_addr;
	bool has_addr;
	bool safe_line = find_peer(&peer_addr, &has_addr);
	auth_pam_set_service(opt.pam_service);
	auth_pam_set_session(opt.pam_session);
	if (strcmp(peer, "local") != 0)
		auth_pam_set_rhost(peer);
	/* RFC 1939 section 7: the APOP timestamp is in the greeting only when
	 * APOP is on. */
	char greeting[256] = "+OK pop3d ready\r\n";
	if (apop_enabled())
		snprintf(greeting, sizeof(greeting), "+OK pop3d ready %s\r\n",
		    apop_greeting());
	struct login_config ps = {
		.policy.plaintext_ok = opt.plaintext == PLAIN_ALWAYS ||
		    (opt.plaintext == PLAIN_SECURE && safe_line),
		.policy.apop = apop_enabled(),
		.tls = opt.tls.mode,
		.greeting = greeting,
		.timeout = opt.timeout,
		.login_timeout = opt.login_timeout,
		.login_user = opt.login_user,
		.login_chroot = opt.login_chroot,
		.proxy = has_addr && addr_in_nets(&peer_addr, opt.proxy_trusted,
		    opt.proxy_trusted_count),
		.plaintext_secure = opt.plaintext == PLAIN_SECURE,
		.peer = peer,
	};
	if (!privsep_start(&ps) || (privsep_separated() &&
	    !handover_prepare()))
		startup_failed(1);
}

/* The login process's records until one authenticates (true: creds and
 * acct are the login's, *failures the failed ones before it); false: the
 * session ended before a login, with exit status *status. */
static bool await_login(struct credentials *creds, struct account *acct,
    int *failures, int *status)
{
	char who[4 * MAX_USER + 1];
	for (;;) {
		enum session_end end = privsep_next(creds);
		use_client(privsep_client());
		if (end != END_LOGIN) {
			io_flush();
			/* A balancer's health check is no news. */
			log_msg(end == END_PROXY_LOCAL ? LOG_DEBUG : LOG_INFO,
			    "session end before login peer=%s end=%s", peer,
			    session_end_name(end));
			io_flush();
			*status = end == END_QUIT ? 0 : 1;
			return false;
		}
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		memset(acct, 0, sizeof(*acct));
		enum auth_result r = AUTH_FAIL;
		const char *why = NULL;
		bool not_self = other_than_self(creds->user);
		if (not_self) {
			why = "not the account pop3d runs as";
			if (valid_user_name(creds->user) &&
			    getpwnam(creds->user))
				snprintf(acct->name, sizeof(acct->name), "%s",
				    creds->user);
		}
		else
			r = authenticate(creds, acct);
		explicit_bzero(creds->pass, sizeof(creds->pass));
		if (r == AUTH_OK && (why = account_refused(acct)) != NULL) {
			auth_session_close();
			r = AUTH_FAIL;
		}
		if (r == AUTH_OK)
			return true;
		/* Only names of real accounts are logged: an unknown one may be
		 * a password typed into the wrong field. */
		log_msg(LOG_NOTICE, "login failed user=%s peer=%s method=%s "
		    "reason=%s", acct->name[0] ? log_escape(acct->name, who,
		    sizeof(who)) : "(unknown)", peer, creds->method, why ? why :
		    r == AUTH_TEMPFAIL ? "backend error" : r == AUTH_EXPIRED ?
		    "account expired or locked" : "bad credentials");
		io_flush();
		pause_until(&t0, LOGIN_FAILURE_DELAY_MS);
		bool last = ++*failures >= MAX_LOGIN_FAILURES;
		privsep_refuse(r == AUTH_TEMPFAIL ? "-ERR [SYS/TEMP] "
		    "authentication is not available now, try later\r\n" :
		    not_self ? "-ERR [AUTH] this server serves only the account "
		    "it runs as\r\n" : "-ERR [AUTH] authentication failed\r\n",
		    last);
		if (last) {
			log_msg(LOG_NOTICE, "too many login failures peer=%s", peer);
			*status = 1;
			return false;
		}
	}
}

int main(int argc, char **argv)
{
	start(argc, argv);
	struct credentials creds;
	struct account acct;
	int failures = 0, status;
	if (!await_login(&creds, &acct, &failures, &status))
		return status;
	if (!privsep_accept()) {
		log_msg(LOG_ERR, "login process lost peer=%s", peer);
		return 1;
	}

	io_set_timeout(opt.timeout);
	char who[4 * MAX_USER + 1];
	log_escape(acct.name, who, sizeof(who));
	char path[PATH_MAX];
	if (!privs_path(opt.mailbox, &acct, NULL, path, sizeof(path))) {
		io_puts("-ERR [SYS/PERM] this account cannot be served\r\n");
		io_flush();
		log_msg(LOG_ERR, "login user=%s peer=%s refused: the mailbox "
		    "path does not fit", who, peer);
		auth_session_close();
		return 1;
	}
	struct state_plan plan = {0};	/* all of it goes into the record */
	enum privs_result pr = privs_start_session(&acct, &opt.privs, path,
	    &plan);
	if (pr != PRIVS_OK)
		return refuse_session(who, pr == PRIVS_STATE_BAD);
	if (privsep_separated() && handover_dropped()) {
		hand_over(&acct, path, &plan, creds.method, failures);
		return refuse_session(who, false);
	}
	/* Served in this process: started as an ordinary user (or under a
	 * uid wrapper, handover.h). */
	if (!user_state_dir(&acct, &plan))
		return refuse_session(who, true);
	if (opt.privs.lock_group)
		lock_set_group(opt.privs.lock_gid);
	mailbox_limits((size_t)opt.max_messages, opt.max_bytes);
	struct user_session u = { &acct, path, opt.uidl, peer, creds.method,
	    privsep_tls(), failures, privsep_policy() };
	return user_serve(&u);
}
