/*
 * proxy.h: the PROXY protocol header (HAProxy's doc/proxy-protocol.txt,
 * version 1 "send-proxy" and version 2 "send-proxy-v2") that a balancer in
 * --proxy-trusted sends before anything else, to tell the real client's
 * address.  Read by the login process (or the single process), before the
 * TLS handshake and the greeting, like every other pre-login byte.
 *
 *   proxy_parse(buf, len, need, h)  the header in buf[0..len): PROXY_MORE
 *       with *need the bytes to read next (never more than the rest of a
 *       valid header: nothing after it is consumed), or the verdict on it,
 *       h->length its length.  The same bytes in any split give the same
 *       verdict.
 *   proxy_read(fd, seconds, h)  reads a header from fd (exactly its bytes)
 *       within a deadline of seconds and parses it; the verdict
 *   proxy_misplaced(line, len, next, n)  a command line (CRLF stripped;
 *       next[0..n) what follows it unread) that is a PROXY header: where a
 *       command should be, it is refused (the peer is not trusted, or sent
 *       a second header)
 *   proxy_strerror(status)  what a refusal means, for the log
 */
#ifndef POP3D_PROXY_H
#define POP3D_PROXY_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>

enum proxy_status {
	PROXY_MORE,		/* (proxy_parse) read *need more bytes */
	PROXY_CLIENT,		/* relayed: h->client is the client's address */
	PROXY_UNKNOWN,		/* relayed, the client's address not given (v1
				 * UNKNOWN; v2 UNSPEC, UNIX or UDP): the
				 * connection's own peer stands */
	PROXY_LOCAL,		/* v2 LOCAL: the balancer's own connection (a
				 * health check) */
	PROXY_MISSING,		/* the first bytes are not a PROXY header */
	PROXY_MALFORMED,	/* h->why says what is wrong */
	PROXY_TOO_LONG,
	PROXY_TRUNCATED,	/* (proxy_read) the input ended inside it */
	PROXY_LATE,		/* (proxy_read) not complete by the deadline */
	PROXY_IOERR,		/* (proxy_read) */
};

struct proxy_header {
	int version;		/* 1 or 2; 0 before it is known */
	size_t length;		/* bytes of the header, once complete */
	struct ip_addr client;	/* PROXY_CLIENT only */
	unsigned port;		/* the client's port, PROXY_CLIENT only */
	const char *why;	/* PROXY_MALFORMED: a static phrase */
};

enum proxy_status proxy_parse(const unsigned char *buf, size_t len,
    size_t *need, struct proxy_header *h);
enum proxy_status proxy_read(int fd, int seconds, struct proxy_header *h);
bool proxy_misplaced(const char *line, size_t len, const char *next,
    size_t n);
const char *proxy_strerror(enum proxy_status s);

#endif
