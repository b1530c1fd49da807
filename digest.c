/*
 * digest.c: SHA-256 through libcrypto's SHA256_* functions.  See digest.h.
 * Runs in: any process (library).
 *
 * OpenSSL 3 marks them deprecated in favour of EVP_DigestInit_ex2(), and
 * they are the same assembly code; but EVP first loads the provider
 * machinery, which costs ~1.6 MiB of RSS in every session (measured: a
 * program hashing through EVP peaks at 4.2 MiB, through SHA256_* at
 * 2.6 MiB, doing nothing at 1 MiB): more than pop3d's whole margin on
 * peak RSS over popa3d's (README, Benchmark).  Should they go,
 * EVP_Digest*() is a drop-in here.
 * None of the three can fail: they only buffer and compress.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "digest.h"

void digest_begin(digest_ctx *d)
{
	SHA256_Init(d);
}

void digest_add(digest_ctx *d, const void *p, size_t n)
{
	SHA256_Update(d, p, n);
}

void digest_end(digest_ctx *d, uint8_t out[SHA256_BYTES])
{
	SHA256_Final(out, d);
}
