/*
 * sasl.h: the SASL PLAIN mechanism (RFC 4616) as AUTH carries it (RFC 5034).
 *
 *   sasl_plain(b64, user, usize, pass, psize)  decodes a client response
 *       "authzid NUL authcid NUL passwd" and fills in user (the authcid)
 *       and pass.  The authzid must be empty or the authcid itself: pop3d
 *       does not let one user act as another.  The decoded text is wiped.
 * Returns SASL_OK or why the response was refused; on refusal user and
 * pass are empty.
 */
#ifndef POP3D_SASL_H
#define POP3D_SASL_H

#include <stddef.h>

enum sasl_result {
	SASL_OK,
	SASL_BAD_BASE64,	/* not strict base64 */
	SASL_BAD_FORMAT,	/* not three NUL-separated fields */
	SASL_TOO_LONG,		/* a field does not fit */
	SASL_AUTHZID,		/* asks to act as another user */
};

enum sasl_result sasl_plain(const char *b64, char *user, size_t usize,
    char *pass, size_t psize);
const char *sasl_strerror(enum sasl_result r);

#endif
