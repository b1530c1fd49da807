/*
 * apop.h: the APOP command (RFC 1939 section 7) against a file of shared
 * secrets, "user:secret" a line ('#' comments).  Runs as started (root);
 * touches no mailbox.
 *
 *   apop_configure(path)      checks that the file may be trusted: a regular
 *                             file owned by root or the running user that
 *                             neither group nor others may read or write;
 *                             false (reason logged) if not
 *   apop_enabled()            whether --apop was given
 *   apop_greeting()           the "<pid.clock.random@host>" timestamp, made
 *                             once per process, for the greeting
 *   apop_digest_ok(s)         s looks like an APOP digest (32 hex digits)
 *   apop_check(user, digest)  AUTH_OK when digest is MD5(timestamp secret)
 *                             for user's secret; constant-time comparison,
 *                             and about the same work for an unknown user
 *   apop_parse_line(line, user, secret)  splits one line of the file in
 *                             place; false for comments, blank and malformed
 *                             lines (exposed for the fuzzer)
 * APOP proves knowledge of the secret, not an account: the caller finds the
 * account to serve with auth_account().
 */
#ifndef POP3D_APOP_H
#define POP3D_APOP_H

#include "auth.h"

#include <stdbool.h>

#define APOP_DIGEST_LEN	32

bool apop_configure(const char *path);
bool apop_enabled(void);
const char *apop_greeting(void);
bool apop_digest_ok(const char *s);
enum auth_result apop_check(const char *user, const char *digest);
bool apop_parse_line(char *line, char **user, char **secret);

#endif
