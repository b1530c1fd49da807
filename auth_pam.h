/*
 * auth_pam.h: the PAM backend behind auth.h.  Runs in the process that
 * stays root (when started as root); never touches a mailbox.
 *
 *   auth_pam_load()              loads libpam (dynload.h), before any other
 *                                call but the three settings; false (logged)
 *                                when it cannot be
 *   auth_pam_set_service(name)   the PAM service (-s, default "pop3")
 *   auth_pam_set_session(on)     --pam-session: open a PAM session (the
 *                                session stack) for each login; default
 *                                off, pam_setcred only
 *   auth_pam_set_rhost(host)     the client's address for PAM_RHOST
 *   auth_pam_login(u, p, acct)   pam_authenticate + pam_acct_mgmt; the
 *                                account from getpwnam(PAM_USER).  On a
 *                                failure acct->name is set only if the
 *                                user exists, for the log.  p NULL: the
 *                                login was proven otherwise (APOP), only
 *                                pam_acct_mgmt is asked
 *   auth_pam_session_open()      pam_setcred(ESTABLISH), and
 *                                pam_open_session if set
 *   auth_pam_end()               close the session, delete the credentials,
 *                                pam_end (whatever of these was started)
 *   auth_pam_forget()            in a forked child: drop the handle without
 *                                undoing anything (PAM_DATA_SILENT)
 */
#ifndef POP3D_AUTH_PAM_H
#define POP3D_AUTH_PAM_H

#include "account.h"

bool auth_pam_load(void);
void auth_pam_set_service(const char *name);
void auth_pam_set_session(bool open_session);
void auth_pam_set_rhost(const char *host);
enum auth_result auth_pam_login(const char *user, const char *pass,
    struct account *acct);
bool auth_pam_session_open(void);
void auth_pam_end(void);
void auth_pam_forget(void);

#endif
