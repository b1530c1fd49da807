/*
 * tls.c: OpenSSL under the client connection.  See tls.h.
 *
 * Runs in: the login process.
 * (The handshake and the relay; tls_configure runs in the root parent
 * before the fork, to read the key; log_word_ok checks a description
 * wherever one arrives.)
 *
 * Settings are OpenSSL's secure defaults with a floor of TLS 1.2 (RFC 8996
 * deprecates 1.0 and 1.1; RFC 8314 section 4.1).  There is one session per
 * process and nothing to resume it in, so session caching and tickets are
 * off.  Renegotiation is refused: a relay or a reader in the middle of a
 * line should never have to write.  POP3 ends with QUIT, so a peer that
 * closes without close_notify is taken as end of input, not as an attack.
 *
 * The socket is made non-blocking once TLS starts: an SSL_read may need to
 * write and an SSL_write to read, and the callers wait with poll(2) for the
 * direction OpenSSL asks for (the io_transport contract).
 */
#include "tls.h"
#include "dynload.h"
#include "log.h"
#include "params.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* libssl and libcrypto's functions, loaded by tls_configure (dynload.h).
 * The names below are OpenSSL's, and its macros (SSL_CTX_set_mode...)
 * expand to them: each call goes through the pointer.  pop3d does not
 * link libssl, so a function missing here fails the build. */
#define OPENSSL_FUNCTIONS(X) X(ERR_clear_error) X(ERR_error_string_n) \
	X(ERR_get_error) X(EVP_PKEY_free) X(PEM_read_PrivateKey) \
	X(SSL_CIPHER_get_name) X(SSL_CTX_check_private_key) X(SSL_CTX_ctrl) \
	X(SSL_CTX_new) X(SSL_CTX_set_cipher_list) X(SSL_CTX_set_num_tickets) \
	X(SSL_CTX_set_options) X(SSL_CTX_use_PrivateKey) \
	X(SSL_CTX_use_certificate_chain_file) X(SSL_accept) \
	X(SSL_get_current_cipher) X(SSL_get_error) X(SSL_get_rfd) \
	X(SSL_get_version) X(SSL_get_wfd) X(SSL_has_pending) X(SSL_new) \
	X(SSL_read) X(SSL_set_rfd) X(SSL_set_wfd) X(SSL_shutdown) \
	X(SSL_write) X(TLS_server_method)
#define SYMBOL(f)	DYNLOAD_SYM(openssl, f)
static struct { OPENSSL_FUNCTIONS(DYNLOAD_POINTER) } openssl;
static const struct dynload_sym openssl_syms[] = {
	OPENSSL_FUNCTIONS(SYMBOL)
};
#define ERR_clear_error			openssl.ERR_clear_error
#define ERR_error_string_n		openssl.ERR_error_string_n
#define ERR_get_error			openssl.ERR_get_error
#define EVP_PKEY_free			openssl.EVP_PKEY_free
#define PEM_read_PrivateKey		openssl.PEM_read_PrivateKey
#define SSL_CIPHER_get_name		openssl.SSL_CIPHER_get_name
#define SSL_CTX_check_private_key	openssl.SSL_CTX_check_private_key
#define SSL_CTX_ctrl			openssl.SSL_CTX_ctrl
#define SSL_CTX_new			openssl.SSL_CTX_new
#define SSL_CTX_set_cipher_list		openssl.SSL_CTX_set_cipher_list
#define SSL_CTX_set_num_tickets		openssl.SSL_CTX_set_num_tickets
#define SSL_CTX_set_options		openssl.SSL_CTX_set_options
#define SSL_CTX_use_PrivateKey		openssl.SSL_CTX_use_PrivateKey
#define SSL_CTX_use_certificate_chain_file \
	openssl.SSL_CTX_use_certificate_chain_file
#define SSL_accept			openssl.SSL_accept
#define SSL_get_current_cipher		openssl.SSL_get_current_cipher
#define SSL_get_error			openssl.SSL_get_error
#define SSL_get_rfd			openssl.SSL_get_rfd
#define SSL_get_version			openssl.SSL_get_version
#define SSL_get_wfd			openssl.SSL_get_wfd
#define SSL_has_pending			openssl.SSL_has_pending
#define SSL_new				openssl.SSL_new
#define SSL_read			openssl.SSL_read
#define SSL_set_rfd			openssl.SSL_set_rfd
#define SSL_set_wfd			openssl.SSL_set_wfd
#define SSL_shutdown			openssl.SSL_shutdown
#define SSL_write			openssl.SSL_write
#define TLS_server_method		openssl.TLS_server_method

static SSL_CTX *ctx;
static SSL *ssl;
static bool active;

/* The OpenSSL error queue as one log line, then empties it. */
static void log_ssl(int prio, const char *what)
{
	char text[256] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, text, sizeof(text));
	ERR_clear_error();
	log_msg(prio, "TLS: %s%s%s", what, text[0] ? ": " : "", text);
}

/* A file or directory that only root may change (root, or the running
 * user when not started as root). */
static bool owner_only_writes(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == geteuid()) &&
	    !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* The first directory on a key's way that others may change, if any. */
struct way {
	bool linked;		/* a symbolic link was followed */
	char unsafe[PATH_MAX];	/* "": none */
	struct stat unsafe_st;
};

/* Appends "/name" to the directory path cur (of size PATH_MAX); false if
 * it does not fit. */
static bool path_join(char *cur, const char *name)
{
	size_t o = strlen(cur);
	return snprintf(cur + o, PATH_MAX - o, "/%s", name) < (int)(PATH_MAX - o);
}

/* Opens path for reading as open(2) would, but resolving its symbolic
 * links one by one (at most 40, as Linux) so that every directory passed
 * on the way, the links' own and their targets', is looked at (by name:
 * a directory that only root may change does not change under us).  -1
 * with errno set if it cannot be opened. */
static int open_along(const char *path, struct way *w)
{
	char rest[PATH_MAX], cur[PATH_MAX], comp[NAME_MAX + 1];
	int links = 0;
	struct stat st;
	if (snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest) ||
	    (path[0] != '/' && !getcwd(cur, sizeof(cur)))) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (path[0] == '/')
		cur[0] = '\0';
	const char *p = rest;
	for (;;) {
		const char *dir = cur[0] ? cur : "/";
		if (stat(dir, &st) < 0)
			return -1;
		if (!w->unsafe[0] && !owner_only_writes(&st)) {
			snprintf(w->unsafe, sizeof(w->unsafe), "%s", dir);
			w->unsafe_st = st;
		}
		p += strspn(p, "/");
		size_t len = strcspn(p, "/");
		if (len == 0 || len > NAME_MAX) {
			errno = len ? ENAMETOOLONG : EISDIR;
			return -1;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {	/* cur holds no link */
			char *slash = strrchr(cur, '/');
			if (slash)
				*slash = '\0';
			continue;
		}
		size_t o = strlen(cur);
		if (!path_join(cur, comp)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (lstat(cur, &st) < 0)
			return -1;
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX], joined[PATH_MAX];
			ssize_t n = readlink(cur, target, sizeof(target) - 1);
			cur[o] = '\0';
			if (n <= 0 || ++links > 40) {
				errno = n < 0 ? errno : ELOOP;
				return -1;
			}
			target[n] = '\0';
			if (snprintf(joined, sizeof(joined), "%s%s", target, p) >=
			    (int)sizeof(joined)) {
				errno = ENAMETOOLONG;
				return -1;
			}
			memcpy(rest, joined, sizeof(rest));
			p = rest;
			w->linked = true;
			if (target[0] == '/')
				cur[0] = '\0';
			continue;
		}
		if (p[strspn(p, "/")] == '\0')
			return open(cur, O_RDONLY | O_NOFOLLOW | O_NOCTTY |
			    O_NONBLOCK | O_CLOEXEC);
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
	}
}

/* What a PEM file holds, by its BEGIN lines; the file is rewound. */
enum { PEM_CERT = 1, PEM_KEY = 2 };

static int pem_kinds(FILE *f)
{
	char line[256];
	int kinds = 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "-----BEGIN ", 11) == 0)
			kinds |= strstr(line, "CERTIFICATE-----") ? PEM_CERT :
			    strstr(line, "PRIVATE KEY-----") ? PEM_KEY : 0;
	rewind(f);
	return kinds;
}

/* The key's file: regular, owned by root (the running user when not
 * root), writable by its owner only and readable by no other than the
 * owner and its group: Debian's 0640 root:ssl-cert is fine, the group is
 * logged.  Reached through symbolic links (certbot's live/ -> archive/)
 * only when every directory on the way is one only root may change: a
 * link in a directory others may write could be pointed at another key. */
static bool key_file_ok(const char *path, int fd, const struct way *w)
{
	struct stat st;
	bool root = geteuid() == 0;
	if (w->linked && w->unsafe[0]) {
		log_msg(LOG_ERR, "TLS key %s: refused: it is reached through a "
		    "symbolic link, and the directory %s (uid %lu, mode %04o) "
		    "on the way may be changed by others than %s: keep the key "
		    "and its links in directories only root may write", path,
		    w->unsafe, (unsigned long)w->unsafe_st.st_uid,
		    (unsigned)(w->unsafe_st.st_mode & 07777), root ? "root" :
		    "the running user");
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (root ? st.st_uid != 0 : st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))) {
		log_msg(LOG_ERR, "TLS key %s: refused: it must be a regular file "
		    "owned by %s that others may not read and its group may "
		    "not write (chmod 600, or 640 for a group such as ssl-cert)",
		    path, root ? "root" : "the running user");
		return false;
	}
	if (st.st_mode & S_IRGRP) {
		struct group *gr = getgrgid(st.st_gid);
		log_msg(LOG_INFO, "TLS key %s: readable by group %s (gid %lu)",
		    path, gr ? gr->gr_name : "?", (unsigned long)st.st_gid);
	}
	return true;
}

static bool load_key(const char *path, const char *cert)
{
	struct way w = { 0 };
	int fd = open_along(path, &w);
	if (fd < 0) {
		log_msg(LOG_ERR, "TLS key %s: %s", path, strerror(errno));
		return false;
	}
	if (!key_file_ok(path, fd, &w)) {
		close(fd);
		return false;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return false;
	}
	int kinds = pem_kinds(f);
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	bool ok = k && SSL_CTX_use_PrivateKey(ctx, k) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1;
	if (!k) {
		char what[PATH_MAX + 64];
		snprintf(what, sizeof(what), !(kinds & PEM_KEY) && (kinds &
		    PEM_CERT) ? "%s holds a certificate, not a private key" :
		    "no usable private key in %s", path);
		log_ssl(LOG_ERR, what);
	} else if (!ok) {
		log_msg(LOG_ERR, "TLS: the key %s does not match the certificate "
		    "%s", path, cert);
		ERR_clear_error();
	}
	EVP_PKEY_free(k);
	return ok;
}

/* The certificate chain, with what is wrong with the file said in words
 * before OpenSSL's reason. */
static bool load_cert(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		log_msg(LOG_ERR, "TLS certificate %s: %s", path, strerror(errno));
		return false;
	}
	int kinds = pem_kinds(f);
	fclose(f);
	if (!(kinds & PEM_CERT)) {
		log_msg(LOG_ERR, kinds & PEM_KEY ? "TLS: %s holds a private key, "
		    "not a certificate" : "TLS: no certificate in %s (a PEM "
		    "file, -----BEGIN CERTIFICATE-----, leaf first)", path);
		return false;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, path) != 1) {
		char what[PATH_MAX + 64];
		snprintf(what, sizeof(what), "cannot load the certificate chain "
		    "in %s", path);
		log_ssl(LOG_ERR, what);
		return false;
	}
	return true;
}

bool tls_configure(const struct tls_config *cfg)
{
	if (cfg->mode == TLS_OFF)
		return true;
	if (!cfg->cert || !cfg->key) {
		log_msg(LOG_ERR, "TLS: --tls needs --tls-cert and --tls-key");
		return false;
	}
	const char *why = dynload("libssl.so." DYNLOAD_XSTR(OPENSSL_SHLIB_VERSION),
	    openssl_syms, sizeof(openssl_syms) / sizeof(openssl_syms[0]));
	if (why) {
		log_msg(LOG_ERR, "TLS: cannot load OpenSSL: %s", why);
		return false;
	}
	int min = TLS1_2_VERSION;
	if (cfg->min && strcmp(cfg->min, "1.3") == 0)
		min = TLS1_3_VERSION;
	else if (cfg->min && strcmp(cfg->min, "1.2") != 0) {
		log_msg(LOG_ERR, "TLS: --tls-min must be 1.2 or 1.3");
		return false;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_set_min_proto_version(ctx, min) != 1) {
		log_ssl(LOG_ERR, "cannot set up a context");
		return false;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (cfg->ciphers && SSL_CTX_set_cipher_list(ctx, cfg->ciphers) != 1) {
		log_ssl(LOG_ERR, "--tls-ciphers names no usable cipher");
		return false;
	}
	return load_cert(cfg->cert) && load_key(cfg->key, cfg->cert);
}

/* SSL call results as io_transport results. */
static ssize_t result(int r, short *want)
{
	if (r > 0)
		return r;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			errno = EPIPE;
		ERR_clear_error();
		return -1;
	default:
		log_ssl(LOG_INFO, "connection failed");
		errno = EPROTO;
		return -1;
	}
}

static ssize_t tls_read(void *buf, size_t n, short *want)
{
	ERR_clear_error();
	return result(SSL_read(ssl, buf, n > INT_MAX ? INT_MAX : (int)n), want);
}

static ssize_t tls_write(const void *buf, size_t n, short *want)
{
	ERR_clear_error();
	ssize_t r = result(SSL_write(ssl, buf, n > INT_MAX ? INT_MAX : (int)n),
	    want);
	if (r == 0) {
		errno = EPIPE;
		r = -1;
	}
	return r;
}

static bool tls_pending(void)
{
	return SSL_has_pending(ssl) == 1;
}

const struct io_transport *tls_transport(void)
{
	static const struct io_transport t = { tls_read, tls_write,
	    tls_pending };
	return &t;
}

bool tls_active(void)
{
	return active;
}

const char *tls_describe(char *out, size_t size)
{
	if (!active || !ssl)
		snprintf(out, size, "no");
	else
		snprintf(out, size, "%s/%s", SSL_get_version(ssl),
		    SSL_get_cipher_name(ssl));
	return out;
}

static void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

bool tls_start(int rfd, int wfd, int timeout)
{
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_rfd(ssl, rfd) != 1 || SSL_set_wfd(ssl, wfd) != 1) {
		log_ssl(LOG_ERR, "cannot set up the session");
		return false;
	}
	set_nonblocking(rfd);
	set_nonblocking(wfd);
	struct timespec deadline;
	io_deadline(&deadline, NULL, 1000LL * (timeout < TLS_HANDSHAKE_TIMEOUT ?
	    timeout : TLS_HANDSHAKE_TIMEOUT));
	for (;;) {
		ERR_clear_error();
		short want = 0;
		if (result(SSL_accept(ssl), &want) > 0)
			break;
		if (errno != EAGAIN) {
			log_msg(LOG_INFO, "TLS handshake failed");
			return false;
		}
		if (!io_wait(want == POLLIN ? rfd : wfd, want, &deadline)) {
			log_msg(LOG_INFO, "TLS handshake timed out");
			return false;
		}
	}
	active = true;
	log_msg(LOG_DEBUG, "TLS established: %s %s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
	return true;
}

void tls_close(void)
{
	if (!active)
		return;
	active = false;
	ERR_clear_error();
	SSL_shutdown(ssl);	/* one try; the peer may be gone already */
	ERR_clear_error();
}

/* One direction of the relay: bytes read from a source, not yet all
 * written to the sink. */
struct pipe_buf {
	char data[TLS_RELAY_BUFFER];
	size_t off, len;
	bool eof;
};

void tls_relay(int fd, int timeout)
{
	static struct pipe_buf up, down;	/* client->fd, fd->client */
	int rfd = SSL_get_rfd(ssl), wfd = SSL_get_wfd(ssl);
	set_nonblocking(fd);
	for (;;) {
		bool moved = false;
		short ssl_want = 0, fd_want = 0, w = 0;
		ssize_t n;
		if (up.len == 0 && !up.eof) {
			n = tls_read(up.data, sizeof(up.data), &w);
			if (n > 0) {
				up.off = 0;
				up.len = (size_t)n;
			} else if (n < 0 && errno == EAGAIN) {
				ssl_want |= w;
			} else {	/* the client is done: tell the reader */
				up.eof = true;
				shutdown(fd, SHUT_WR);
			}
			moved |= n != -1 || errno != EAGAIN;
		}
		if (up.off < up.len) {
			n = write(fd, up.data + up.off, up.len - up.off);
			if (n > 0) {
				up.off += (size_t)n;
				if (up.off == up.len)
					up.off = up.len = 0;
				moved = true;
			} else if (errno == EAGAIN || errno == EINTR) {
				fd_want |= POLLOUT;
			} else {
				break;	/* the user's process is gone */
			}
		}
		if (down.len == 0 && !down.eof) {
			n = read(fd, down.data, sizeof(down.data));
			if (n > 0) {
				down.off = 0;
				down.len = (size_t)n;
			} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				fd_want |= POLLIN;
			} else {
				down.eof = true;
			}
			moved |= n > 0 || down.eof;
		}
		if (down.off < down.len) {
			n = tls_write(down.data + down.off, down.len - down.off, &w);
			if (n > 0) {
				down.off += (size_t)n;
				if (down.off == down.len)
					down.off = down.len = 0;
				moved = true;
			} else if (errno == EAGAIN) {
				ssl_want |= w;
			} else {
				break;	/* the client is gone */
			}
		}
		if (down.eof && down.len == 0)
			break;		/* the session is over and all sent */
		if (moved)
			continue;
		/* The user's process owns the idle timeout; this one only
		 * catches a client that stops reading, a little later. */
		struct pollfd p[3] = {	/* -1: no wake-up on HUP while idle */
			{ .fd = ssl_want & POLLIN ? rfd : -1, .events = POLLIN },
			{ .fd = ssl_want & POLLOUT ? wfd : -1, .events = POLLOUT },
			{ .fd = fd_want ? fd : -1, .events = fd_want },
		};
		int r = poll(p, 3, (timeout + RELAY_GRACE) * 1000);
		if (r == 0) {
			log_msg(LOG_INFO, "TLS relay: client stopped reading");
			break;
		}
		if (r < 0 && errno != EINTR)
			break;
	}
	tls_close();
	explicit_bzero(&up, sizeof(up));
	explicit_bzero(&down, sizeof(down));
}
