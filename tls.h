/*
 * tls.h: TLS for the client connection, with OpenSSL (RFC 8314 implicit TLS
 * on port 995, RFC 2595 STLS).  One connection, one server-side session.
 *
 *   tls_configure(cfg)     before privileges change: the context, the
 *                          certificate chain and the key (root's file,
 *                          readable by its group at most; through links
 *                          only in directories only root may write);
 *                          false if unusable (the reason is logged)
 *   tls_start(rfd, wfd, timeout)  the server handshake on the client's fds,
 *                          within timeout seconds (at most
 *                          TLS_HANDSHAKE_TIMEOUT); false if it failed (logged)
 *   tls_transport()        the io_transport to hand to io_set_transport()
 *   tls_active()           a handshake has succeeded
 *   tls_describe(out, n)   "PROTOCOL/CIPHER" (TLSv1.3/TLS_AES_256_GCM_SHA384)
 *                          when active, else "no", for the log (returns
 *                          out; from another process it is checked by
 *                          log_word_ok)
 *   tls_relay(fd, timeout) moves plaintext between the TLS session and fd
 *                          (a socketpair to the user's process) until either
 *                          side ends, then closes the session
 *   tls_close()            close_notify, best effort; safe when inactive
 */
#ifndef POP3D_TLS_H
#define POP3D_TLS_H

#include "io.h"

#include <stdbool.h>
#include <stddef.h>

/* tls_describe's longest answer, NUL included. */
#define TLS_DESCRIPTION_MAX	64

enum tls_mode { TLS_OFF, TLS_STLS, TLS_IMPLICIT };

struct tls_config {
	enum tls_mode mode;
	const char *cert;	/* PEM chain, leaf first */
	const char *key;	/* PEM private key */
	const char *ciphers;	/* OpenSSL cipher list for TLS 1.2; NULL: default */
	const char *min;	/* "1.2" (default) or "1.3" */
};

bool tls_configure(const struct tls_config *cfg);
bool tls_start(int rfd, int wfd, int timeout);
const struct io_transport *tls_transport(void);
bool tls_active(void);
const char *tls_describe(char *out, size_t size);
void tls_relay(int fd, int timeout);
void tls_close(void);

#endif
