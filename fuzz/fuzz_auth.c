/*
 * fuzz_auth.c: the parsers of login data.  The input is tried as base64
 * (anything accepted must re-encode to exactly the input: one encoding per
 * octet string), as a SASL PLAIN response, as an APOP digest and as a line
 * of the APOP secrets file.
 */
#include "harness.h"

#include "../apop.h"
#include "../base64.h"
#include "../params.h"
#include "../sasl.h"

#include <stdint.h>

#include <openssl/evp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4 * MAX_SASL_LINE)
		return 0;
	char *s = malloc(size + 1);
	CHECK(s);
	memcpy(s, data, size);
	s[size] = '\0';

	unsigned char *dec = malloc(base64_max(size) + 1);
	size_t n;
	CHECK(dec);
	if (base64_decode(s, size, dec, base64_max(size) + 1, &n)) {
		CHECK(n <= base64_max(size));
		unsigned char *enc = malloc(size + 1);
		CHECK(enc);
		int e = EVP_EncodeBlock(enc, dec, (int)n);
		CHECK(e >= 0 && (size_t)e == size && memcmp(enc, s, size) == 0);
		free(enc);
	}
	free(dec);

	char user[MAX_USER + 1], pass[MAX_PASS + 1];
	enum sasl_result r = sasl_plain(s, user, sizeof(user), pass, sizeof(pass));
	if (r == SASL_OK)
		CHECK(user[0] && pass[0] && strlen(user) <= MAX_USER);
	else
		CHECK(!user[0] && !pass[0]);

	if (apop_digest_ok(s))
		CHECK(strlen(s) == APOP_DIGEST_LEN);
	char *u, *secret;
	if (apop_parse_line(s, &u, &secret))
		CHECK(u[0] && secret[0] && !strchr(u, ':'));
	free(s);
	return 0;
}
