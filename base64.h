/*
 * base64.h: strict base64 decoding (RFC 4648 section 4) for SASL.
 *
 *   base64_decode(in, len, out, cap, outlen)  decodes the string in, of
 *       length len (in[len] is its NUL), into out;
 *       false unless the input is canonical base64: a multiple of 4
 *       characters from the alphabet, '=' only as the last one or two,
 *       zero pad bits (section 3.5), no whitespace, and cap is at least
 *       base64_max(len).  out is cleared on failure.
 * The decoding itself is the C library's (b64_pton, libresolv); this
 * module only adds the strictness that SASL wants (RFC 4422 section 3.5 /
 * RFC 5034).
 */
#ifndef POP3D_BASE64_H
#define POP3D_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#define base64_max(len)	((len) / 4 * 3)

bool base64_decode(const char *in, size_t len, unsigned char *out, size_t cap,
    size_t *outlen);

#endif
