/*
 * digest.c: SHA-256, from libcrypto or libmd.  See digest.h.
 * Runs in: any process (library).
 *
 * libcrypto's SHA256_* functions are its SHA-NI/AVX2 code, several times
 * faster than libmd's portable C; but loading libcrypto costs a process
 * about 0.6 ms (measured: a program exec'd 500 times, linked with
 * libcrypto or not), a tenth of a whole login.  The session (pop3d-session)
 * is therefore not linked with it: libcrypto is dlopen()ed by the first
 * digest_begin, and a session that hashes only a few KiB (a cache hit:
 * digest_begin_small) never loads it.  Without libcrypto every digest is
 * libmd's: slower, the same bytes.
 *
 * The SHA256_* functions, not EVP: OpenSSL 3 marks them deprecated in
 * favour of EVP_DigestInit_ex2(), and they are the same assembly code;
 * but EVP first loads the provider machinery, which costs ~1.6 MiB of RSS
 * in every session (measured: a program hashing through EVP peaks at
 * 4.2 MiB, through SHA256_* at 2.6 MiB, doing nothing at 1 MiB).  Should
 * they go, EVP_Digest*() is a drop-in here.
 * None of the functions can fail: they only buffer and compress.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "digest.h"
#include "dynload.h"

#include <openssl/opensslv.h>
#include <stdbool.h>

static struct {
	bool tried;
	int (*init)(SHA256_CTX *);
	int (*update)(SHA256_CTX *, const void *, size_t);
	int (*final)(unsigned char *, SHA256_CTX *);
} crypto;

/* libcrypto's functions, loaded once: false when it cannot be. */
static bool fast(void)
{
	static const struct dynload_sym syms[] = {
		{ "SHA256_Init", (void **)&crypto.init },
		{ "SHA256_Update", (void **)&crypto.update },
		{ "SHA256_Final", (void **)&crypto.final },
	};
	if (!crypto.tried) {
		crypto.tried = true;
		dynload("libcrypto.so." DYNLOAD_XSTR(OPENSSL_SHLIB_VERSION),
		    syms, 3);	/* on failure the pointers stay NULL */
	}
	return crypto.init != NULL;
}

void digest_begin(digest_ctx *d)
{
	d->fast = fast();
	if (d->fast)
		crypto.init(&d->u.c);
	else
		SHA256Init(&d->u.m);
}

void digest_begin_small(digest_ctx *d)
{
	d->fast = false;
	SHA256Init(&d->u.m);
}

void digest_add(digest_ctx *d, const void *p, size_t n)
{
	if (d->fast)
		crypto.update(&d->u.c, p, n);
	else
		SHA256Update(&d->u.m, p, n);
}

void digest_end(digest_ctx *d, uint8_t out[SHA256_BYTES])
{
	if (d->fast)
		crypto.final(out, &d->u.c);
	else
		SHA256Final(out, &d->u.m);
}
