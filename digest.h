/*
 * digest.h: SHA-256 for UIDLs and the index cache, from OpenSSL's libcrypto
 * (its SHA-NI/AVX2 code hashes several times faster than libmd's portable C,
 * ~0.2 GB/s here: the headers of a 1 GiB mailbox cost 0.2 s with libmd).
 *
 *   digest_begin()            start a hash; NULL if libcrypto failed
 *   digest_add(d, p, n)       hash n more bytes
 *   digest_end(d, out)        the 32-byte result; d may begin again
 * One context at a time (pop3d is single-threaded and hashes one thing at
 * a time).
 */
#ifndef POP3D_DIGEST_H
#define POP3D_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES	32

typedef struct SHA256state_st digest_ctx;

digest_ctx *digest_begin(void);
void digest_add(digest_ctx *d, const void *p, size_t n);
void digest_end(digest_ctx *d, uint8_t out[SHA256_BYTES]);

#endif
