/*
 * account.h: what a login yields, shared by the --auth backends (auth.h,
 * auth_pam.h) and their callers: the account to serve and the verdict.
 */
#ifndef POP3D_ACCOUNT_H
#define POP3D_ACCOUNT_H

#include "params.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct account {
	char name[MAX_USER + 1];
	bool has_ids;		/* uid/gid known: switch to them when root */
	uid_t uid;
	gid_t gid;
	char home[PATH_MAX];	/* "" when unknown */
	bool system;		/* a passwd account: initgroups() applies */
};

enum auth_result {
	AUTH_OK,
	AUTH_FAIL,		/* bad user or password: the client is told [AUTH] */
	AUTH_EXPIRED,		/* the account may not log in now */
	AUTH_TEMPFAIL,		/* the backend could not answer: [SYS/TEMP] */
};

#endif
