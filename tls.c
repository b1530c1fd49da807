/*
 * tls.c: OpenSSL under the client connection.  See tls.h.
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
#include "log.h"
#include "params.h"

#include <errno.h>
#include <fcntl.h>
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

/* The key is read from a descriptor that was checked first: a regular file
 * that only its owner may read (root, when started as root), so that no
 * other account on the host shares the server's identity. */
static bool load_key(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0) {
		log_msg(LOG_ERR, "TLS key %s: %s", path, strerror(errno));
		return false;
	}
	bool root = geteuid() == 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & (S_IRWXG | S_IRWXO)) ||
	    (root ? st.st_uid != 0 : st.st_uid != geteuid())) {
		log_msg(LOG_ERR, "TLS key %s: refused: it must be a regular file "
		    "owned by %s with no group or other permissions (chmod 600)",
		    path, root ? "root" : "the running user");
		close(fd);
		return false;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return false;
	}
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	bool ok = k && SSL_CTX_use_PrivateKey(ctx, k) == 1;
	EVP_PKEY_free(k);
	if (!ok)
		log_ssl(LOG_ERR, "cannot load the key");
	else if (SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl(LOG_ERR, "the key does not match the certificate");
		ok = false;
	}
	return ok;
}

bool tls_configure(const struct tls_config *cfg)
{
	if (cfg->mode == TLS_OFF)
		return true;
	if (!cfg->cert || !cfg->key) {
		log_msg(LOG_ERR, "TLS: --tls needs --tls-cert and --tls-key");
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
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
		log_ssl(LOG_ERR, "cannot load the certificate chain");
		return false;
	}
	return load_key(cfg->key);
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

bool tls_description_ok(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		return false;
	size_t n = strlen(s);
	return n > 0 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._/-") == n;
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

/* Milliseconds left until deadline (CLOCK_MONOTONIC), at least 0. */
static int ms_left(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (deadline->tv_sec - now.tv_sec) * 1000LL +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 1000000 ? 1000000 : (int)ms;
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
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout < TLS_HANDSHAKE_TIMEOUT ? timeout :
	    TLS_HANDSHAKE_TIMEOUT;
	for (;;) {
		ERR_clear_error();
		short want = 0;
		if (result(SSL_accept(ssl), &want) > 0)
			break;
		if (errno != EAGAIN) {
			log_msg(LOG_INFO, "TLS handshake failed");
			return false;
		}
		struct pollfd p = { .fd = want == POLLIN ? rfd : wfd,
		    .events = want };
		int left = ms_left(&deadline);
		if (left == 0 || (poll(&p, 1, left) < 0 && errno != EINTR)) {
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
