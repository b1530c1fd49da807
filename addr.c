/*
 * addr.c: numeric IP addresses and networks.  See addr.h.
 * Runs in: any process (library).
 * Pure functions, no I/O: the root parent's option, peer and login record,
 * the login process's PROXY header.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

bool addr_parse(const char *text, struct ip_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, text, a->bytes) == 1) {
		a->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, a->bytes) == 1) {
		a->family = AF_INET6;
		return true;
	}
	return false;
}

void addr_format(const struct ip_addr *a, char out[ADDR_TEXT])
{
	if (!inet_ntop(a->family, a->bytes, out, ADDR_TEXT))
		strcpy(out, "?");
}

static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0xff, 0xff };

/* The IPv4 address inside an IPv4-mapped IPv6 one; others as they are. */
static struct ip_addr unmapped(const struct ip_addr *a)
{
	struct ip_addr v = *a;
	if (a->family == AF_INET6 && memcmp(a->bytes, v4_mapped, 12) == 0) {
		memset(&v, 0, sizeof(v));
		v.family = AF_INET;
		memcpy(v.bytes, a->bytes + 12, 4);
	}
	return v;
}

bool addr_loopback(const struct ip_addr *a)
{
	static const unsigned char v6_loopback[16] = { [15] = 1 };
	struct ip_addr v = unmapped(a);
	if (v.family == AF_INET)
		return v.bytes[0] == 127;
	return memcmp(v.bytes, v6_loopback, 16) == 0;
}

/* One "ADDR[/BITS]" of len bytes at s. */
static bool parse_net(const char *s, size_t len, struct ip_net *net)
{
	char text[ADDR_TEXT + 4];
	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	char *slash = strchr(text, '/');
	if (slash)
		*slash = '\0';
	if (!addr_parse(text, &net->addr))
		return false;
	unsigned max = net->addr.family == AF_INET ? 32 : 128;
	net->bits = max;
	if (!slash)
		return true;
	const char *b = slash + 1;
	size_t digits = strspn(b, "0123456789");
	if (digits == 0 || digits > 3 || b[digits] != '\0' ||
	    (digits > 1 && b[0] == '0'))
		return false;
	unsigned bits = 0;
	for (size_t i = 0; i < digits; i++)
		bits = bits * 10 + (unsigned)(b[i] - '0');
	if (bits > max)
		return false;
	net->bits = bits;
	return true;
}

size_t addr_nets_parse(const char *list, struct ip_net *nets, size_t max)
{
	size_t n = 0;
	for (const char *p = list; ; ) {
		size_t len = strcspn(p, ",");
		if (n == max || !parse_net(p, len, &nets[n]))
			return 0;
		n++;
		if (p[len] == '\0')
			return n;
		p += len + 1;
	}
}

/* The first bits bits of a and b are the same. */
static bool same_prefix(const unsigned char *a, const unsigned char *b,
    unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

bool addr_in_nets(const struct ip_addr *a, const struct ip_net *nets,
    size_t n)
{
	struct ip_addr v = unmapped(a);
	for (size_t i = 0; i < n; i++) {
		struct ip_addr net = nets[i].addr;
		unsigned bits = nets[i].bits;
		/* ::ffff:10.0.0.0/104 is 10.0.0.0/8. */
		if (net.family == AF_INET6 && bits >= 96 &&
		    unmapped(&net).family == AF_INET) {
			net = unmapped(&net);
			bits -= 96;
		}
		/* An IPv4-mapped address is in an IPv6 network as itself,
		 * and in an IPv4 one as its IPv4 address. */
		if ((net.family == a->family && same_prefix(a->bytes, net.bytes,
		    bits)) || (net.family == v.family && same_prefix(v.bytes,
		    net.bytes, bits)))
			return true;
	}
	return false;
}
