/*
 * pam_test.c: a PAM module for the test suites, built by them (cc -shared).
 * pam_matrix (libpam-wrapper) checks passwords; this module adds what it
 * lacks:
 *   account  expired=NAME   PAM_ACCT_EXPIRED for user NAME, else success
 *   auth/session  log=PATH  appends one line per pam_setcred and
 *                           pam_open/close_session call, with the PAM items
 *                           the application set and the caller's euid
 * pam_sm_authenticate returns PAM_IGNORE: it never decides a login.
 */
#include <security/pam_modules.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *arg(int argc, const char **argv, const char *key)
{
	size_t n = strlen(key);
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
			return argv[i] + n + 1;
	return NULL;
}

static const char *item(pam_handle_t *pamh, int type)
{
	const void *v = NULL;
	if (pam_get_item(pamh, type, &v) != PAM_SUCCESS || !v)
		return "-";
	return v;
}

static int note(pam_handle_t *pamh, int argc, const char **argv,
    const char *what)
{
	const char *path = arg(argc, argv, "log");
	if (!path)
		return PAM_SUCCESS;
	FILE *f = fopen(path, "a");
	if (!f)
		return PAM_SYSTEM_ERR;
	fprintf(f, "%s user=%s rhost=%s ruser=%s tty=%s service=%s euid=%lu\n",
	    what, item(pamh, PAM_USER), item(pamh, PAM_RHOST),
	    item(pamh, PAM_RUSER), item(pamh, PAM_TTY), item(pamh, PAM_SERVICE),
	    (unsigned long)geteuid());
	fclose(f);
	return PAM_SUCCESS;
}

int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	(void)pamh, (void)flags, (void)argc, (void)argv;
	return PAM_IGNORE;
}

int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return note(pamh, argc, argv, flags & PAM_DELETE_CRED ?
	    "setcred-delete" : "setcred-establish");
}

int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	(void)flags;
	const char *expired = arg(argc, argv, "expired");
	const void *user = NULL;
	pam_get_item(pamh, PAM_USER, &user);
	if (expired && user && strcmp(expired, user) == 0)
		return PAM_ACCT_EXPIRED;
	return PAM_SUCCESS;
}

int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	(void)flags;
	return note(pamh, argc, argv, "open");
}

int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	(void)flags;
	return note(pamh, argc, argv, "close");
}
