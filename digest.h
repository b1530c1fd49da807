/*
 * digest.h: SHA-256 for UIDLs, the index cache and the UPDATE journal,
 * from OpenSSL's libcrypto where it can be loaded (digest.c): its
 * SHA-NI/AVX2 code hashes several times faster than libmd's portable C
 * (~0.2 GB/s here), which cost 0.2 s on the headers of a 1 GiB mailbox
 * and 2 s on the journal of an UPDATE that keeps half of one.
 *
 *   digest_begin(&d)          start a hash in a context the caller owns
 *   digest_begin_small(&d)    the same, for a few KiB at most: libmd's
 *                             code, which costs no loading of libcrypto
 *   digest_add(&d, p, n)      hash n more bytes
 *   digest_end(&d, out)       the 32-byte result
 */
#ifndef POP3D_DIGEST_H
#define POP3D_DIGEST_H

#include <openssl/sha.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sha2.h>

#define SHA256_BYTES	32

typedef struct {
	bool fast;		/* libcrypto's */
	union {
		SHA256_CTX c;
		SHA2_CTX m;
	} u;
} digest_ctx;

void digest_begin(digest_ctx *d);
void digest_begin_small(digest_ctx *d);
void digest_add(digest_ctx *d, const void *p, size_t n);
void digest_end(digest_ctx *d, uint8_t out[SHA256_BYTES]);

#endif
