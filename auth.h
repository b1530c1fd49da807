/*
 * auth.h: authentication backends behind one interface.  Runs as root when
 * pop3d was started as root; never touches a mailbox.
 *
 *   auth_configure(spec)          "pam" or "file:PATH"; false if unusable
 *                                 (the reason is logged)
 *   auth_login(user, pass, acct)  checks the password; on AUTH_OK fills in the
 *                                 account to serve.  A failure costs about the
 *                                 same time whether the user exists or not.
 *   auth_account(user, acct)      the account of user without a password,
 *                                 for logins proven another way (APOP):
 *                                 the file entry, or PAM's account check
 *                                 (pam_acct_mgmt, no pam_authenticate)
 *   auth_session_open()           after a successful login, in the process
 *                                 that stays root: PAM credentials and
 *                                 session (--pam-session); a no-op for the
 *                                 file backend
 *   auth_session_close()          ends what auth_login and
 *                                 auth_session_open started; call it after
 *                                 any login, failed, refused or served
 *   auth_forget()                 in a forked child: forget the PAM handle
 *                                 without closing the parent's session
 *   auth_open_trusted(path, what, secret)  a file of logins (the password
 *                                 file, APOP's secrets) opened for reading
 *                                 if it may be trusted: a regular file owned
 *                                 by root, or by the user pop3d runs as when
 *                                 not root, that group and others may not
 *                                 write (secret: nor read); else NULL, and
 *                                 the log says why ("what path: ...")
 *   auth_read_line(f, line, size) the next line of such a file, its '\n'
 *                                 removed: 1; 0 at the end; -1 for a line
 *                                 longer than size - 2 octets (the rest of
 *                                 it is skipped)
 *   auth_equal(a, b)              strings a and b are equal, compared
 *                                 without an early exit: the time does not
 *                                 tell how many leading characters matched
 */
#ifndef POP3D_AUTH_H
#define POP3D_AUTH_H

#include "account.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

bool auth_configure(const char *spec);
enum auth_result auth_login(const char *user, const char *pass,
    struct account *acct);
enum auth_result auth_account(const char *user, struct account *acct);
bool auth_session_open(void);
void auth_session_close(void);
void auth_forget(void);
bool auth_is_pam(void);
FILE *auth_open_trusted(const char *path, const char *what, bool secret);
int auth_read_line(FILE *f, char *line, size_t size);
bool auth_equal(const char *a, const char *b);

#endif
