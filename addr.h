/*
 * addr.h: numeric IP addresses and networks.  Pure functions, no I/O: the
 * root parent parses --proxy-trusted, matches its peer against it and
 * checks the client address a login record carries; the login process
 * formats the address a PROXY header gives.
 *
 *   addr_parse(text, a)      strict numeric IPv4 or IPv6 text (inet_pton),
 *                            nothing around it; false for anything else
 *   addr_format(a, out)      its canonical text (inet_ntop) in out, which
 *                            has ADDR_TEXT bytes
 *   addr_loopback(a)         127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104
 *   addr_nets_parse(list, nets, max)  "ADDR[/BITS][,ADDR[/BITS]]...": the
 *                            number of networks (1..max), or 0 if any part
 *                            is not an address with a prefix length that
 *                            fits its family (/BITS left out: the address
 *                            alone)
 *   addr_in_nets(a, nets, n) a lies in one of the networks; an IPv4-mapped
 *                            IPv6 address (::ffff:a.b.c.d, a dual-stack
 *                            socket's peer) counts as the IPv4 address
 */
#ifndef POP3D_ADDR_H
#define POP3D_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* INET6_ADDRSTRLEN: the longest text of either family, NUL included. */
#define ADDR_TEXT	46

struct ip_addr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char bytes[16];	/* network order; 4 used for AF_INET */
};

struct ip_net {
	struct ip_addr addr;
	unsigned bits;
};

bool addr_parse(const char *text, struct ip_addr *a);
void addr_format(const struct ip_addr *a, char out[ADDR_TEXT]);
bool addr_loopback(const struct ip_addr *a);
size_t addr_nets_parse(const char *list, struct ip_net *nets, size_t max);
bool addr_in_nets(const struct ip_addr *a, const struct ip_net *nets,
    size_t n);

#endif
