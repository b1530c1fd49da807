/*
 * apop.c: see apop.h.
 * Runs in: the root parent.
 * (apop_digest_ok, a check of the digest's syntax, is also the login
 * process's.)  APOP keeps secrets in the clear on the server and MD5 is
 * weak (Leurent, FSE 2007): it is off unless --apop is given.
 */
#include "apop.h"
#include "log.h"
#include "params.h"

#include <md5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const char *apop_path;
static char timestamp[128];

/* The secrets are the passwords themselves: nobody else may read them. */
static FILE *open_secrets(void)
{
	return auth_open_trusted(apop_path, "APOP file", true);
}

bool apop_configure(const char *path)
{
	apop_path = path;
	FILE *f = open_secrets();
	if (!f) {
		apop_path = NULL;
		return false;
	}
	fclose(f);
	return true;
}

bool apop_enabled(void)
{
	return apop_path != NULL;
}

/* RFC 1939 section 7: a msg-id that differs for every greeting.  The pid
 * and the clock make it unique on this host; the random part makes it
 * unpredictable, so no digest can be collected for a later session. */
const char *apop_greeting(void)
{
	if (timestamp[0])
		return timestamp;
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
		strcpy(host, "localhost");
	for (char *p = host; *p; p++)
		if (!(*p == '.' || *p == '-' || (*p >= '0' && *p <= '9') ||
		    ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')))
			*p = '-';
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long long rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (unsigned long long)ts.tv_nsec * 2654435761ULL;
	snprintf(timestamp, sizeof(timestamp), "<%ld.%lld.%09ld.%016llx@%.64s>",
	    (long)getpid(), (long long)ts.tv_sec, ts.tv_nsec, rnd, host);
	return timestamp;
}

bool apop_digest_ok(const char *s)
{
	size_t n = strlen(s);
	return n == APOP_DIGEST_LEN &&
	    strspn(s, "0123456789abcdefABCDEF") == APOP_DIGEST_LEN;
}

bool apop_parse_line(char *line, char **user, char **secret)
{
	if (line[0] == '#' || line[0] == '\0')
		return false;
	char *colon = strchr(line, ':');
	if (!colon || colon == line || colon[1] == '\0')
		return false;
	*colon = '\0';
	*user = line;
	*secret = colon + 1;
	return true;
}

/* Finds user's secret; 1 found, 0 not there, -1 the file cannot be used. */
static int find_secret(const char *user, char *secret, size_t size)
{
	FILE *f = open_secrets();
	if (!f)
		return -1;
	char line[MAX_PASSWD_LINE + 2];
	int found = 0, got;
	while (found == 0 && (got = auth_read_line(f, line, sizeof(line))) != 0) {
		if (got < 0) {
			log_msg(LOG_ERR, "APOP file %s: line too long", apop_path);
			found = -1;
			break;
		}
		char *u, *s;
		if (apop_parse_line(line, &u, &s) && strcmp(u, user) == 0) {
			if (strlen(s) >= size) {
				found = -1;
				break;
			}
			strcpy(secret, s);
			found = 1;
		}
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	return found;
}

enum auth_result apop_check(const char *user, const char *digest)
{
	char secret[MAX_PASSWD_LINE + 1];
	int found = find_secret(user, secret, sizeof(secret));
	if (found < 0)
		return AUTH_TEMPFAIL;
	if (found == 0)
		strcpy(secret, "no such user: the same work all the same");
	char want[MD5_DIGEST_STRING_LENGTH], got[APOP_DIGEST_LEN + 1];
	MD5_CTX ctx;
	MD5Init(&ctx);
	MD5Update(&ctx, (const uint8_t *)timestamp, strlen(timestamp));
	MD5Update(&ctx, (const uint8_t *)secret, strlen(secret));
	MD5End(&ctx, want);
	explicit_bzero(secret, sizeof(secret));
	if (!apop_digest_ok(digest))
		return AUTH_FAIL;
	for (int i = 0; i < APOP_DIGEST_LEN; i++)
		got[i] = (char)(digest[i] | 0x20);	/* hex: lower case */
	got[APOP_DIGEST_LEN] = '\0';
	bool same = auth_equal(want, got);
	explicit_bzero(want, sizeof(want));
	return same && found == 1 ? AUTH_OK : AUTH_FAIL;
}
