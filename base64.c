/*
 * base64.c: see base64.h.
 * Runs in: any process (library).
 */
#include "base64.h"

#include <limits.h>
#include <resolv.h>
#include <string.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, or -1 when c is not in the alphabet. */
static int base64_sextet(char c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

bool base64_decode(const char *in, size_t len, unsigned char *out, size_t cap,
    size_t *outlen)
{
	*outlen = 0;
	if (len % 4 != 0 || len > INT_MAX / 2 || cap < base64_max(len))
		return false;
	if (len == 0)
		return true;
	size_t pad = in[len - 1] != '=' ? 0 : in[len - 2] != '=' ? 1 : 2;
	for (size_t i = 0; i < len - pad; i++)
		if (base64_sextet(in[i]) < 0)
			return false;
	/* The bits that the padding leaves over must be zero, so that every
	 * octet string has exactly one encoding. */
	if ((pad == 1 && (base64_sextet(in[len - 2]) & 0x03)) ||
	    (pad == 2 && (base64_sextet(in[len - 3]) & 0x0f)))
		return false;
	if (in[len] != '\0')
		return false;
	int n = b64_pton(in, out, cap);
	if (n < 0 || (size_t)n != base64_max(len) - pad) {
		memset(out, 0, cap);
		return false;
	}
	*outlen = (size_t)n;
	return true;
}
