/*
 * digest.c: SHA-256 through libcrypto's EVP interface.  See digest.h.
 */
#include "digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>

static EVP_MD *sha256;
static EVP_MD_CTX *ctx;

digest_ctx *digest_begin(void)
{
	if (!ctx) {
		/* No openssl.cnf: nothing in it concerns SHA-256, and reading it
		 * costs time and memory at every login. */
		if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) ||
		    !(sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) ||
		    !(ctx = EVP_MD_CTX_new()))
			return NULL;
	}
	return EVP_DigestInit_ex2(ctx, sha256, NULL) ? ctx : NULL;
}

void digest_add(digest_ctx *d, const void *p, size_t n)
{
	/* SHA-256 update cannot fail once initialised. */
	EVP_DigestUpdate(d, p, n);
}

void digest_end(digest_ctx *d, uint8_t out[SHA256_BYTES])
{
	unsigned int n;
	EVP_DigestFinal_ex(d, out, &n);
}
