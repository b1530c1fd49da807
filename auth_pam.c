/*
 * auth_pam.c: the PAM backend (--auth=pam, the default).  See auth_pam.h.
 * Runs in: the root parent.
 *
 * The order is Linux-PAM's (The Linux-PAM Application Developers' Guide):
 * pam_start, pam_authenticate, pam_acct_mgmt, then -- once pop3d has
 * decided to serve the account -- pam_setcred(ESTABLISH) and, with
 * --pam-session, pam_open_session in the process that stays root, and at
 * the end pam_close_session, pam_setcred(DELETE) and pam_end there.
 *
 * Sessions are opt-in, as in Dovecot and popa3d: with Debian's
 * common-session, pam_systemd would make a logind session (and a user
 * manager) for every poll of every mail client.
 */
#include "auth_pam.h"
#include "dynload.h"
#include "log.h"

#include <pwd.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *service = DEFAULT_PAM_SERVICE;
static char rhost[64];
/* libpam's functions, loaded by auth_pam_load (dynload.h): the names
 * below are libpam's, and each call goes through the pointer.  pop3d does
 * not link libpam, so a function missing here fails the build. */
#define PAM_FUNCTIONS(X) X(pam_acct_mgmt) X(pam_authenticate) \
	X(pam_close_session) X(pam_end) X(pam_get_item) X(pam_open_session) \
	X(pam_set_item) X(pam_setcred) X(pam_start) X(pam_strerror)
#define SYMBOL(f)	DYNLOAD_SYM(libpam, f)
#define LIBPAM		"libpam.so.0"	/* Linux-PAM's soname since 1999 */
static struct { PAM_FUNCTIONS(DYNLOAD_POINTER) } libpam;
static const struct dynload_sym libpam_syms[] = { PAM_FUNCTIONS(SYMBOL) };
#define pam_acct_mgmt		libpam.pam_acct_mgmt
#define pam_authenticate	libpam.pam_authenticate
#define pam_close_session	libpam.pam_close_session
#define pam_end			libpam.pam_end
#define pam_get_item		libpam.pam_get_item
#define pam_open_session	libpam.pam_open_session
#define pam_set_item		libpam.pam_set_item
#define pam_setcred		libpam.pam_setcred
#define pam_start		libpam.pam_start
#define pam_strerror		libpam.pam_strerror

bool auth_pam_load(void)
{
	const char *why = dynload(LIBPAM, libpam_syms,
	    sizeof(libpam_syms) / sizeof(libpam_syms[0]));
	if (why)
		log_msg(LOG_ERR, "PAM: cannot load %s: %s", LIBPAM, why);
	return !why;
}

static pam_handle_t *pamh;
static bool creds_set, session_open, with_session;

void auth_pam_set_service(const char *name)
{
	service = name;
}

void auth_pam_set_session(bool open_session)
{
	with_session = open_session;
}

void auth_pam_set_rhost(const char *host)
{
	snprintf(rhost, sizeof(rhost), "%s", host);
}

/* Answers every password prompt (PAM_PROMPT_ECHO_OFF) with the password
 * the client gave, takes informational messages in silence, and refuses
 * anything else: POP3 has no way to ask the client a question. */
static int conversation(int n, const struct pam_message **msg,
    struct pam_response **resp, void *data)
{
	const char *pass = data;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if (!pass || !(r[i].resp = strdup(pass)))
				goto refuse;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			break;
		default:
			log_msg(LOG_WARNING, "PAM asked a question pop3d cannot "
			    "answer (style %d); see the PAM service %s",
			    msg[i]->msg_style, service);
			goto refuse;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
refuse:
	for (int i = 0; i < n; i++)
		if (r[i].resp) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	free(r);
	return PAM_CONV_ERR;
}

/* pop3d pads every failed login to the same length itself (pop3d.c); a
 * module's own pam_fail_delay (pam_unix: 2 s, randomised) would only make
 * the throttle uneven. */
static void no_delay(int status, unsigned usec, void *data)
{
	(void)status, (void)usec, (void)data;
}

/* No PAM_RUSER: it names the user on the remote host (pam_rhosts trusts
 * it as such), and the client's claimed name is nothing of the kind. */
static bool set_items(void)
{
	return (!rhost[0] || pam_set_item(pamh, PAM_RHOST, rhost) == PAM_SUCCESS) &&
	    pam_set_item(pamh, PAM_TTY, PAM_TTY_NAME) == PAM_SUCCESS &&
	    pam_set_item(pamh, PAM_FAIL_DELAY, (const void *)no_delay) ==
	    PAM_SUCCESS;
}

/* The account for logging a failure: only a name that exists is kept. */
static void note_known(const char *user, struct account *acct)
{
	if (getpwnam(user))
		snprintf(acct->name, sizeof(acct->name), "%s", user);
}

/* Fills in the account PAM accepted, by the name PAM settled on (a module
 * may map the login name to the canonical one). */
static enum auth_result fill_account(struct account *acct)
{
	const void *item = NULL;
	if (pam_get_item(pamh, PAM_USER, &item) != PAM_SUCCESS || !item)
		return AUTH_TEMPFAIL;
	const char *name = item;
	struct passwd *pw = getpwnam(name);
	if (!pw || strlen(name) > MAX_USER || strlen(pw->pw_dir) >=
	    sizeof(acct->home)) {
		log_msg(LOG_ERR, "PAM accepted a user that getpwnam() does not "
		    "know (or whose name or home is too long)");
		return AUTH_TEMPFAIL;
	}
	*acct = (struct account){ .has_ids = true, .system = true,
	    .uid = pw->pw_uid, .gid = pw->pw_gid };
	snprintf(acct->name, sizeof(acct->name), "%s", name);
	snprintf(acct->home, sizeof(acct->home), "%s", pw->pw_dir);
	return AUTH_OK;
}

/* Maps a PAM error to what the client is told: the backend failing is a
 * temporary error, everything else a plain failure. */
static enum auth_result auth_pam_classify(int e)
{
	switch (e) {
	case PAM_SUCCESS:
		return AUTH_OK;
	case PAM_AUTHINFO_UNAVAIL:
	case PAM_SYSTEM_ERR:
	case PAM_BUF_ERR:
	case PAM_ABORT:
	case PAM_OPEN_ERR:
	case PAM_SYMBOL_ERR:
	case PAM_SERVICE_ERR:
		return AUTH_TEMPFAIL;
	default:
		return AUTH_FAIL;
	}
}

enum auth_result auth_pam_login(const char *user, const char *pass,
    struct account *acct)
{
	struct pam_conv conv = { conversation, (void *)pass };
	auth_pam_end();
	int e = pam_start(service, user, &conv, &pamh);
	if (e != PAM_SUCCESS) {
		log_msg(LOG_ERR, "pam_start(%s): %s", service,
		    pam_strerror(pamh, e));
		pamh = NULL;
		return AUTH_TEMPFAIL;
	}
	if (!set_items()) {
		log_msg(LOG_ERR, "pam_set_item failed");
		auth_pam_end();
		return AUTH_TEMPFAIL;
	}
	enum auth_result r = AUTH_OK;
	/* No password: the caller has proven the login another way (APOP);
	 * PAM still decides whether the account may log in now. */
	if (pass) {
		e = pam_authenticate(pamh, PAM_SILENT |
		    PAM_DISALLOW_NULL_AUTHTOK);
		if ((r = auth_pam_classify(e)) == AUTH_TEMPFAIL)
			log_msg(LOG_ERR, "pam_authenticate (service %s): %s",
			    service, pam_strerror(pamh, e));
	}
	if (r == AUTH_OK) {
		/* The password was right; may the account log in now?  An
		 * expired or locked account, or one that must change its
		 * password first (which POP3 cannot do), may not. */
		e = pam_acct_mgmt(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
		r = auth_pam_classify(e);
		if (r == AUTH_FAIL) {
			log_msg(LOG_INFO, "pam_acct_mgmt (service %s): %s",
			    service, pam_strerror(pamh, e));
			r = AUTH_EXPIRED;
		} else if (r == AUTH_TEMPFAIL) {
			log_msg(LOG_ERR, "pam_acct_mgmt (service %s): %s",
			    service, pam_strerror(pamh, e));
		}
	}
	if (r == AUTH_OK)
		r = fill_account(acct);
	if (r != AUTH_OK) {
		auth_pam_end();
		note_known(user, acct);
	}
	return r;
}

bool auth_pam_session_open(void)
{
	if (!pamh)
		return true;
	int e = pam_setcred(pamh, PAM_ESTABLISH_CRED | PAM_SILENT);
	if (e != PAM_SUCCESS) {
		log_msg(LOG_ERR, "pam_setcred: %s", pam_strerror(pamh, e));
		return false;
	}
	creds_set = true;
	if (!with_session)
		return true;
	e = pam_open_session(pamh, PAM_SILENT);
	if (e != PAM_SUCCESS) {
		log_msg(LOG_ERR, "pam_open_session: %s", pam_strerror(pamh, e));
		return false;
	}
	session_open = true;
	return true;
}

void auth_pam_end(void)
{
	if (!pamh)
		return;
	int e = PAM_SUCCESS;
	if (session_open && (e = pam_close_session(pamh, PAM_SILENT)) !=
	    PAM_SUCCESS)
		log_msg(LOG_ERR, "pam_close_session: %s", pam_strerror(pamh, e));
	if (creds_set)
		pam_setcred(pamh, PAM_DELETE_CRED | PAM_SILENT);
	pam_end(pamh, e);
	pamh = NULL;
	creds_set = session_open = false;
}

void auth_pam_forget(void)
{
	if (!pamh)
		return;
	/* Linux-PAM: in a forked child, PAM_DATA_SILENT frees the handle
	 * without undoing what the modules did for the parent. */
	pam_end(pamh, PAM_SUCCESS | PAM_DATA_SILENT);
	pamh = NULL;
	creds_set = session_open = false;
}
