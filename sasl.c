/*
 * sasl.c: see sasl.h.
 * Runs in: the login process.
 */
#include "sasl.h"
#include "base64.h"
#include "params.h"

#include <string.h>

enum sasl_result sasl_plain(const char *b64, char *user, size_t usize,
    char *pass, size_t psize)
{
	/* MAX_SASL_LINE characters of base64 decode to less than this. */
	unsigned char buf[base64_max(MAX_SASL_LINE) + 1];
	size_t len, n = strlen(b64);
	enum sasl_result r = SASL_BAD_BASE64;
	user[0] = pass[0] = '\0';
	if (n > MAX_SASL_LINE || !base64_decode(b64, n, buf, sizeof(buf), &len))
		goto out;
	/* RFC 4616 section 2: message = [authzid] NUL authcid NUL passwd,
	 * with no NUL inside a field and neither authcid nor passwd empty. */
	r = SASL_BAD_FORMAT;
	unsigned char *nul1 = memchr(buf, '\0', len);
	unsigned char *nul2 = nul1 ? memchr(nul1 + 1, '\0',
	    len - (size_t)(nul1 + 1 - buf)) : NULL;
	if (!nul2 || memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - buf)))
		goto out;
	size_t zlen = (size_t)(nul1 - buf);
	size_t clen = (size_t)(nul2 - nul1) - 1;
	size_t plen = len - (size_t)(nul2 + 1 - buf);
	if (clen == 0 || plen == 0)
		goto out;
	r = SASL_TOO_LONG;
	if (clen >= usize || plen >= psize)
		goto out;
	r = SASL_AUTHZID;
	if (zlen != 0 && (zlen != clen || memcmp(buf, nul1 + 1, clen) != 0))
		goto out;
	memcpy(user, nul1 + 1, clen);
	user[clen] = '\0';
	memcpy(pass, nul2 + 1, plen);
	pass[plen] = '\0';
	r = SASL_OK;
out:
	explicit_bzero(buf, sizeof(buf));
	return r;
}

const char *sasl_strerror(enum sasl_result r)
{
	switch (r) {
	case SASL_OK: return "ok";
	case SASL_BAD_BASE64: return "invalid base64";
	case SASL_BAD_FORMAT: return "malformed PLAIN response";
	case SASL_TOO_LONG: return "user name or password too long";
	case SASL_AUTHZID: return "authorization identity differs";
	}
	return "?";
}
