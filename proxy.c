/*
 * proxy.c: the PROXY protocol header.  See proxy.h.
 *
 * Runs in: the login process.
 *
 * The header is read before anything else and never past its end: the
 * bytes after it are the client's (with --tls=implicit its ClientHello,
 * which OpenSSL reads from the socket itself), so they must stay unread.
 * Version 2 says its length up front; a version 1 line is read in steps
 * that cannot go past the earliest place its CRLF may be.
 */
#include "proxy.h"
#include "io.h"
#include "params.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Section 2.2: the 12 bytes a version 2 header starts with. */
static const unsigned char v2_signature[12] = { 0x0d, 0x0a, 0x0d, 0x0a,
    0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
#define V1_SIGNATURE	"PROXY "	/* section 2.1: "PROXY" and a space */

static enum proxy_status malformed(struct proxy_header *h, const char *why)
{
	h->why = why;
	return PROXY_MALFORMED;
}

/* A port in decimal: 0..65535, no leading zero (section 2.1). */
static bool v1_port(const char *s, unsigned *port)
{
	size_t n = strlen(s);
	if (n == 0 || n > 5 || strspn(s, "0123456789") != n ||
	    (n > 1 && s[0] == '0'))
		return false;
	unsigned long v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	*port = (unsigned)v;
	return v <= 65535;
}

/* "TCP4 SRC DST SPORT DPORT" or "TCP6 ..." (after "PROXY "): four fields
 * separated by single spaces, the addresses of the family named. */
static enum proxy_status v1_fields(char *s, struct proxy_header *h)
{
	int family = strncmp(s, "TCP4 ", 5) == 0 ? 4 :
	    strncmp(s, "TCP6 ", 5) == 0 ? 6 : 0;
	if (!family)
		return malformed(h, "the protocol is not TCP4, TCP6 or UNKNOWN");
	char *field[4];
	char *p = s + 5;
	for (int i = 0; i < 4; i++) {
		field[i] = p;
		p = strchr(p, ' ');
		if ((p == NULL) != (i == 3) || (p && p == field[i]))
			return malformed(h, "not four fields separated by "
			    "single spaces");
		if (p)
			*p++ = '\0';
	}
	struct ip_addr dst;
	unsigned dport;
	if (!addr_parse(field[0], &h->client) || !addr_parse(field[1], &dst) ||
	    h->client.family != dst.family ||
	    (h->client.family == AF_INET) != (family == 4))
		return malformed(h, "an address is not one of the family named");
	if (!v1_port(field[2], &h->port) || !v1_port(field[3], &dport))
		return malformed(h, "a port is not a number from 0 to 65535");
	return PROXY_CLIENT;
}

/* Section 2.1: one line of printable US-ASCII, CRLF at the end, 107 bytes
 * at most; a lone CR or LF is not an end. */
static enum proxy_status parse_v1(const unsigned char *buf, size_t len,
    size_t *need, struct proxy_header *h)
{
	size_t i = 0;
	while (i < len && buf[i] != '\r' && buf[i] != '\n')
		i++;
	if (i == len || (i + 1 == len && buf[i] == '\r')) {
		/* No end yet: the shortest header, or up to where a CRLF
		 * could end the line next. */
		size_t step = len < PROXY_MIN_HEADER ? PROXY_MIN_HEADER - len :
		    i + 1 == len ? 1 : 2;
		if (len >= PROXY_V1_MAX)
			return PROXY_TOO_LONG;
		*need = step < PROXY_V1_MAX - len ? step : PROXY_V1_MAX - len;
		return PROXY_MORE;
	}
	if (i + 2 > PROXY_V1_MAX)
		return PROXY_TOO_LONG;
	if (buf[i] != '\r' || buf[i + 1] != '\n')
		return malformed(h, "a CR or LF that is not a CRLF");
	h->length = i + 2;
	char line[PROXY_V1_MAX];
	for (size_t k = 0; k < i; k++) {
		if (buf[k] < 0x20 || buf[k] > 0x7e)
			return malformed(h, "a control or non-ASCII byte");
		line[k] = (char)buf[k];
	}
	line[i] = '\0';
	char *proto = line + strlen(V1_SIGNATURE);
	/* "the receiver must ignore anything presented before the CRLF" */
	if (strcmp(proto, "UNKNOWN") == 0 || strncmp(proto, "UNKNOWN ", 8) == 0)
		return PROXY_UNKNOWN;
	return v1_fields(proto, h);
}

/* The TLVs after the addresses: skipped, but each must fit the block. */
static bool v2_tlvs_fit(const unsigned char *p, size_t n)
{
	while (n > 0) {
		if (n < 3)
			return false;
		size_t vlen = (size_t)p[1] << 8 | p[2];
		if (vlen > n - 3)
			return false;
		p += 3 + vlen;
		n -= 3 + vlen;
	}
	return true;
}

/* Section 2.2: 16 fixed bytes (signature, version and command, family and
 * transport, the length of the rest), then addresses and TLVs. */
static enum proxy_status parse_v2(const unsigned char *buf, size_t len,
    size_t *need, struct proxy_header *h)
{
	if (len < 16) {
		*need = 16 - len;
		return PROXY_MORE;
	}
	unsigned version = buf[12] >> 4, command = buf[12] & 15;
	unsigned family = buf[13] >> 4, transport = buf[13] & 15;
	size_t block = (size_t)buf[14] << 8 | buf[15];
	if (version != 2)
		return malformed(h, "version 2 signature, another version");
	if (command > 1)
		return malformed(h, "neither the LOCAL nor the PROXY command");
	if (buf[13] != 0 && (family < 1 || family > 3 || transport < 1 ||
	    transport > 2))
		return malformed(h, "an unknown address family or transport");
	if (block > PROXY_V2_MAX_BLOCK)
		return PROXY_TOO_LONG;
	if (len < 16 + block) {
		*need = 16 + block - len;
		return PROXY_MORE;
	}
	h->length = 16 + block;
	if (command == 0)	/* LOCAL: the address block is ignored */
		return PROXY_LOCAL;
	/* TCP/UDP over IPv4, over IPv6, Unix sockets: 12, 36, 216 bytes. */
	static const size_t address_bytes[4] = { 0, 12, 36, 216 };
	size_t alen = address_bytes[family];
	if (block < alen)
		return malformed(h, "the address block is too short for its "
		    "family");
	const unsigned char *a = buf + 16;
	if (family != 0 && !v2_tlvs_fit(a + alen, block - alen))
		return malformed(h, "a TLV runs past the end of the header");
	/* Section 2.2: what is not TCP over IP falls back to UNSPEC, whose
	 * address information the receiver ignores. */
	if (transport != 1 || (family != 1 && family != 2))
		return PROXY_UNKNOWN;
	size_t abytes = family == 1 ? 4 : 16;
	h->client.family = family == 1 ? AF_INET : AF_INET6;
	memcpy(h->client.bytes, a, abytes);
	h->port = (unsigned)a[2 * abytes] << 8 | a[2 * abytes + 1];
	return PROXY_CLIENT;
}

enum proxy_status proxy_parse(const unsigned char *buf, size_t len,
    size_t *need, struct proxy_header *h)
{
	memset(h, 0, sizeof(*h));
	*need = 0;
	if (len == 0) {
		*need = PROXY_MIN_HEADER;
		return PROXY_MORE;
	}
	size_t sig1 = strlen(V1_SIGNATURE);
	bool v1 = memcmp(buf, V1_SIGNATURE, len < sig1 ? len : sig1) == 0;
	bool v2 = memcmp(buf, v2_signature, len < 12 ? len : 12) == 0;
	if (!v1 && !v2)
		return PROXY_MISSING;
	h->version = v1 ? 1 : 2;
	return v1 ? parse_v1(buf, len, need, h) : parse_v2(buf, len, need, h);
}

/* One deadline for the whole header: a sender that trickles it byte by
 * byte gets no more time than one that sends nothing.  EINTR and EAGAIN
 * retry within the deadline. */
enum proxy_status proxy_read(int fd, int seconds, struct proxy_header *h)
{
	static unsigned char buf[16 + PROXY_V2_MAX_BLOCK];
	struct timespec limit;
	io_deadline(&limit, NULL, seconds * 1000LL);
	size_t len = 0, need;
	for (;;) {
		enum proxy_status s = proxy_parse(buf, len, &need, h);
		if (s != PROXY_MORE)
			return s;
		if (need > sizeof(buf) - len)	/* proxy_parse's bounds */
			return PROXY_TOO_LONG;
		if (!io_wait(fd, POLLIN, &limit))
			return PROXY_LATE;
		ssize_t r = read(fd, buf + len, need);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return PROXY_IOERR;
		if (r == 0)
			return len == 0 ? PROXY_MISSING : PROXY_TRUNCATED;
		len += (size_t)r;
	}
}

bool proxy_misplaced(const char *line, size_t len, const char *next, size_t n)
{
	size_t sig1 = strlen(V1_SIGNATURE);
	if (len >= sig1 && memcmp(line, V1_SIGNATURE, sig1) == 0)
		return true;
	/* The signature's first CRLF ended the (empty) line. */
	return len == 0 && n >= sizeof(v2_signature) - 2 &&
	    memcmp(next, v2_signature + 2, sizeof(v2_signature) - 2) == 0;
}

const char *proxy_strerror(enum proxy_status s)
{
	switch (s) {
	case PROXY_MISSING:
		return "no PROXY header: the connection did not start with one";
	case PROXY_MALFORMED:
		return "malformed PROXY header";
	case PROXY_TOO_LONG:
		return "PROXY header too long";
	case PROXY_TRUNCATED:
		return "PROXY header cut short by the end of the connection";
	case PROXY_LATE:
		return "no complete PROXY header in time";
	case PROXY_IOERR:
		return "read error in the PROXY header";
	default:
		return "PROXY header accepted";
	}
}
