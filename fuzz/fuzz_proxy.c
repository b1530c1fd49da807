/*
 * fuzz_proxy.c: the PROXY protocol header parser and its read loop, and
 * the --proxy-trusted list parser.  The input is the first bytes of a
 * connection from a trusted balancer.  Checked: proxy_read never reads past
 * the header it accepts; the verdict does not depend on how the bytes are
 * split into reads; an accepted header is within its version's bounds and
 * its address survives a round trip through text; a network list that
 * parses contains its own addresses.
 */
#include "harness.h"

#include "../addr.h"
#include "../params.h"
#include "../proxy.h"

#include <stdint.h>
#include <sys/socket.h>

#define CHECK(x) do { if (!(x)) { fprintf(stderr, "check failed: %s\n", #x); \
	abort(); } } while (0)

/* The read loop's steps on data, each read at most chunk bytes. */
static enum proxy_status feed(const uint8_t *data, size_t size, size_t chunk,
    struct proxy_header *h, size_t *used)
{
	size_t len = 0, need;
	for (;;) {
		enum proxy_status s = proxy_parse(data, len, &need, h);
		*used = len;
		if (s != PROXY_MORE)
			return s;
		CHECK(need > 0 && len + need <= 16 + PROXY_V2_MAX_BLOCK);
		if (len == size)
			return len == 0 ? PROXY_MISSING : PROXY_TRUNCATED;
		size_t n = need < chunk ? need : chunk;
		len += n < size - len ? n : size - len;
	}
}

static bool accepted(enum proxy_status s)
{
	return s == PROXY_CLIENT || s == PROXY_UNKNOWN || s == PROXY_LOCAL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4 * PROXY_V2_MAX_BLOCK)
		return 0;
	struct proxy_header h1, h2, h3;
	size_t used1, used2;
	enum proxy_status s1 = feed(data, size, SIZE_MAX, &h1, &used1);
	enum proxy_status s2 = feed(data, size, 1 + (size ? data[size - 1] % 7 :
	    0), &h2, &used2);
	CHECK(s1 == s2);

	int fd = harness_memfd(data, size);
	enum proxy_status s3 = proxy_read(fd, 5, &h3);
	off_t consumed = lseek(fd, 0, SEEK_CUR);
	close(fd);
	CHECK(s3 == s1);
	CHECK(consumed >= 0 && (size_t)consumed <= size);
	if (accepted(s1)) {
		CHECK(h1.length == used1 && h2.length == used2 && used1 == used2);
		CHECK((size_t)consumed == h1.length);
		CHECK(h1.version == 1 ? h1.length <= PROXY_V1_MAX :
		    h1.length <= 16 + PROXY_V2_MAX_BLOCK);
		/* The whole header at once: the same verdict. */
		size_t need;
		CHECK(proxy_parse(data, h1.length, &need, &h2) == s1);
	}
	if (s1 == PROXY_CLIENT) {
		char text[ADDR_TEXT];
		struct ip_addr back;
		addr_format(&h1.client, text);
		CHECK(addr_parse(text, &back));
		CHECK(back.family == h1.client.family &&
		    memcmp(back.bytes, h1.client.bytes, 16) == 0);
		CHECK(h1.port <= 65535);
		CHECK(h3.client.family == h1.client.family &&
		    memcmp(h3.client.bytes, h1.client.bytes, 16) == 0);
	}
	if (s1 == PROXY_MALFORMED)
		CHECK(h1.why != NULL);

	/* The same bytes as a command line and what follows it. */
	char *s = malloc(size + 1);
	CHECK(s);
	memcpy(s, data, size);
	s[size] = '\0';
	const char *lf = memchr(s, '\n', size);
	size_t line = lf ? (size_t)(lf - s) : size;
	(void)proxy_misplaced(s, line, lf ? lf + 1 : s + size,
	    lf ? size - line - 1 : 0);

	/* As a --proxy-trusted value. */
	struct ip_net nets[PROXY_TRUSTED_MAX];
	size_t n = addr_nets_parse(s, nets, PROXY_TRUSTED_MAX);
	CHECK(n <= PROXY_TRUSTED_MAX);
	for (size_t i = 0; i < n; i++) {
		CHECK(nets[i].bits <= (nets[i].addr.family == AF_INET ? 32u :
		    128u));
		CHECK(addr_in_nets(&nets[i].addr, &nets[i], 1));
	}
	free(s);
	return 0;
}
