/*
 * privs.h: root to the user, after a login (pop3d.8 SECURITY).  Called by
 * the root parent; privs_start_session returns in the process that is the
 * user.
 *
 *   privs_path(pattern, a, dir, out, size)  a --mailbox or --state-dir
 *                   pattern for account a: %u the name, %h the home, %d dir
 *                   (when not NULL), %% a '%'; false if it does not fit or
 *                   needs what a has not got
 *   privs_start_session(a, cfg, mailbox, plan)  the account's groups, then
 *                   PAM's credentials and session (auth_session_open); with
 *                   PAM a fork: the parent stays root as the monitor (it
 *                   reads nothing from the client, closes the PAM session
 *                   and exits with the child's status), the child goes on.
 *                   Then the state directory is planned (state.h; made by
 *                   root under cfg->state_base when the home cannot hold
 *                   one) and root is left for good: the account's gid and
 *                   uid, cfg's lock group kept as the saved gid and nothing
 *                   else, and proof that root cannot be had back.  Started
 *                   as an ordinary user: only that user's own account.
 *                   PRIVS_OK in the user's process; PRIVS_STATE_BAD: a state
 *                   directory exists but cannot be used (it may hold an
 *                   interrupted UPDATE's journal); PRIVS_FAILED.  Logged.
 */
#ifndef POP3D_PRIVS_H
#define POP3D_PRIVS_H

#include "auth.h"
#include "state.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privs_config {
	const char *state_dir;	/* --state-dir; NULL: the default */
	const char *state_base;	/* --state-base */
	bool lock_group;	/* --lock-group given */
	gid_t lock_gid;
};

enum privs_result { PRIVS_OK, PRIVS_FAILED, PRIVS_STATE_BAD };

bool privs_path(const char *pattern, const struct account *a,
    const char *dir, char *out, size_t size);
enum privs_result privs_start_session(const struct account *a,
    const struct privs_config *cfg, const char *mailbox,
    struct state_plan *plan);

#endif
