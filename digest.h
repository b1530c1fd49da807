/*
 * digest.h: SHA-256 for UIDLs, the index cache and the UPDATE journal,
 * from OpenSSL's libcrypto: its SHA-NI/AVX2 code hashes several times
 * faster than libmd's portable C (~0.2 GB/s here), which cost 0.2 s on the
 * headers of a 1 GiB mailbox and 2 s on the journal of an UPDATE that
 * keeps half of one.
 *
 *   digest_begin(&d)          start a hash in a context the caller owns
 *   digest_add(&d, p, n)      hash n more bytes
 *   digest_end(&d, out)       the 32-byte result
 */
#ifndef POP3D_DIGEST_H
#define POP3D_DIGEST_H

#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES	32

typedef SHA256_CTX digest_ctx;

void digest_begin(digest_ctx *d);
void digest_add(digest_ctx *d, const void *p, size_t n);
void digest_end(digest_ctx *d, uint8_t out[SHA256_BYTES]);

#endif
