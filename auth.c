/*
 * auth.c: the password-file backend, and the dispatch to PAM (auth_pam.c).
 * See auth.h.
 * Runs in: the root parent.
 *
 * file:PATH holds one account a line, "user:crypt-hash[:uid:gid:home]", with
 * '#' comments.  The hash is anything libxcrypt verifies (yescrypt, sha512crypt,
 * bcrypt...).  The file is trusted only as auth_open_trusted() says: whoever
 * may write it may add logins for any uid.
 */
#include "auth.h"
#include "auth_pam.h"
#include "log.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum { BACKEND_PAM, BACKEND_FILE } backend = BACKEND_PAM;
static const char *file_path;

FILE *auth_open_trusted(const char *path, const char *what, bool secret)
{
	int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		log_msg(LOG_ERR, "%s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	mode_t others = secret ? S_IRWXG | S_IRWXO : S_IWGRP | S_IWOTH;
	uid_t self = getuid();
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & others) ||
	    (st.st_uid != 0 && st.st_uid != self)) {
		char owner[32] = "";
		if (self != 0)
			snprintf(owner, sizeof(owner), " or uid %lu",
			    (unsigned long)self);
		log_msg(LOG_ERR, "%s %s: refused: not a regular file owned by "
		    "root%s that group and others may not %s", what, path,
		    owner, secret ? "read or write" : "write");
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

int auth_read_line(FILE *f, char *line, size_t size)
{
	if (!fgets(line, (int)size, f))
		return 0;
	size_t len = strlen(line);
	if (len > 0 && line[len - 1] == '\n')
		line[len - 1] = '\0';
	else if (!feof(f)) {
		int c;
		while ((c = getc(f)) != EOF && c != '\n')
			;
		return -1;
	}
	return 1;
}

static FILE *open_passwd_file(void)
{
	return auth_open_trusted(file_path, "password file", false);
}

bool auth_configure(const char *spec)
{
	if (strcmp(spec, "pam") == 0) {
		backend = BACKEND_PAM;
		return auth_pam_load();
	}
	if (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0') {
		backend = BACKEND_FILE;
		file_path = spec + 5;
		FILE *f = open_passwd_file();
		if (!f)
			return false;
		fclose(f);
		return true;
	}
	log_msg(LOG_ERR, "unknown authentication backend \"%s\"", spec);
	return false;
}

bool auth_is_pam(void)
{
	return backend == BACKEND_PAM;
}

/* A decimal id of up to 10 digits that fits uid_t/gid_t. */
static bool parse_id(const char *s, unsigned long *out)
{
	if (*s == '\0' || strlen(s) > 10)
		return false;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	*out = strtoul(s, NULL, 10);
	return *out < 0xffffffffUL;
}

/* Splits a line into at most 5 ':' fields; returns the count. */
static int split(char *line, char *f[5])
{
	int n = 0;
	f[n++] = line;
	for (char *p = line; *p; p++) {
		if (*p == ':') {
			if (n == 5)
				return 6;
			*p = '\0';
			f[n++] = p + 1;
		}
	}
	return n;
}

/* Finds user in the file; on success copies the hash and account. */
static enum auth_result lookup(const char *user, char *hash, size_t hsize,
    struct account *acct)
{
	FILE *f = open_passwd_file();
	if (!f)
		return AUTH_TEMPFAIL;
	char line[MAX_PASSWD_LINE + 2];
	enum auth_result r = AUTH_FAIL;
	unsigned lineno = 0;
	int got;
	while ((got = auth_read_line(f, line, sizeof(line))) != 0) {
		lineno++;
		if (got < 0) {
			log_msg(LOG_ERR, "%s:%u: line too long", file_path, lineno);
			continue;
		}
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *fld[5];
		int n = split(line, fld);
		if (strcmp(fld[0], user) != 0)
			continue;
		unsigned long uid, gid;
		if ((n != 2 && n != 5) || strlen(fld[1]) >= hsize ||
		    (n == 5 && (!parse_id(fld[2], &uid) || !parse_id(fld[3], &gid) ||
		    strlen(fld[4]) >= sizeof(acct->home)))) {
			log_msg(LOG_ERR, "%s:%u: malformed entry", file_path, lineno);
			r = AUTH_TEMPFAIL;
			break;
		}
		*acct = (struct account){ 0 };
		snprintf(acct->name, sizeof(acct->name), "%s", user);
		strcpy(hash, fld[1]);
		if (n == 5) {
			acct->has_ids = true;
			acct->uid = (uid_t)uid;
			acct->gid = (gid_t)gid;
			strcpy(acct->home, fld[4]);
		}
		r = AUTH_OK;
		break;
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	return r;
}

bool auth_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i < lb ? i : 0]);
	return d == 0;
}

static enum auth_result file_login(const char *user, const char *pass,
    struct account *acct)
{
	char hash[CRYPT_OUTPUT_SIZE];
	enum auth_result r = lookup(user, hash, sizeof(hash), acct);
	if (r == AUTH_TEMPFAIL)
		return r;
	bool usable = r == AUTH_OK && crypt_checksalt(hash) == CRYPT_SALT_OK;
	if (r == AUTH_OK && !usable)
		log_msg(LOG_ERR, "%s: the hash of %s is not one crypt(3) accepts",
		    file_path, acct->name);
	if (!usable)
		strcpy(hash, DUMMY_HASH);
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return AUTH_TEMPFAIL;
	const char *out = crypt_r(pass, hash, cd);
	bool ok = usable && out && out[0] != '*' && auth_equal(out, hash);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	explicit_bzero(hash, sizeof(hash));
	return ok ? AUTH_OK : AUTH_FAIL;
}

enum auth_result auth_login(const char *user, const char *pass,
    struct account *acct)
{
	if (backend == BACKEND_FILE)
		return file_login(user, pass, acct);
	return auth_pam_login(user, pass, acct);
}

enum auth_result auth_account(const char *user, struct account *acct)
{
	if (backend == BACKEND_PAM)
		return auth_pam_login(user, NULL, acct);
	char hash[CRYPT_OUTPUT_SIZE];
	enum auth_result r = lookup(user, hash, sizeof(hash), acct);
	/* A locked entry ("!..." or "*...") locks every way in. */
	if (r == AUTH_OK && (hash[0] == '!' || hash[0] == '*'))
		r = AUTH_EXPIRED;
	explicit_bzero(hash, sizeof(hash));
	return r;
}

bool auth_session_open(void)
{
	return backend == BACKEND_FILE || auth_pam_session_open();
}

void auth_session_close(void)
{
	if (backend == BACKEND_PAM)
		auth_pam_end();
}

void auth_forget(void)
{
	if (backend == BACKEND_PAM)
		auth_pam_forget();
}
