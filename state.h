/*
 * state.h: the per-user state directory (--state-dir), where pop3d keeps
 * its own files: the session lock, the UPDATE journal and (performance
 * issue) the index cache.  Never inside the mbox, never shared by users.
 *
 *   state_try(path)     use (and create, mode 0700) that directory; it
 *                       must be a real directory owned by the user and not
 *                       writable by group or others.  STATE_OPEN; or
 *                       STATE_NONE: it does not exist and cannot be made;
 *                       STATE_FOREIGN: it exists, owned by another user;
 *                       STATE_BAD: it exists (or cannot be looked at) and
 *                       cannot be used, so an interrupted UPDATE's journal
 *                       may be in it (update_recover then never says OK).
 *                       Each but STATE_OPEN is logged
 *   state_open(path)    state_try(path) == STATE_OPEN
 *   state_problem()     why the last state_try failed ("DIR: reason"), for
 *                       log lines about a missing state directory; "" if none
 *   state_unknown()     a state_try said STATE_BAD: a journal may exist
 *                       that cannot be read
 *   state_dir()         its path for this session, or NULL when none
 *   state_fd()          an O_DIRECTORY fd on it for the *at() calls, or -1
 *   state_create(name)  a new file in it: O_CREAT|O_EXCL|O_NOFOLLOW, mode
 *                       0600; -1 and errno on failure
 *   state_sync()        fsync the directory (after creating/removing files)
 *   state_session_lock(dev, ino)  flock on "session-INO.lock", held
 *                       until the process ends (it dies with it): 1 held,
 *                       0 another live session holds it, -1 error
 *   state_session_unlock()  release it early: after a completed UPDATE,
 *                       before the reply to QUIT, so that a client that
 *                       reconnects at once is not told [IN-USE]; also the fuzzers, which
 *                       open mailbox after mailbox in one process
 */
#ifndef POP3D_STATE_H
#define POP3D_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

/* Where a session's state directory is to be looked for, planned before
 * the drop from root (privs.h) and tried by the user (user.h): path (none
 * when empty), and, started as an ordinary user, a fallback beside the
 * mailbox for when path does not exist and cannot be made. */
struct state_plan {
	char path[PATH_MAX];
	char fallback[PATH_MAX];
};

enum state_result { STATE_OPEN, STATE_NONE, STATE_FOREIGN, STATE_BAD };

enum state_result state_try(const char *path);
bool state_open(const char *path);
const char *state_problem(void);
bool state_unknown(void);
const char *state_dir(void);
int state_fd(void);
int state_create(const char *name);
bool state_sync(void);
int state_session_lock(dev_t dev, ino_t ino);
void state_session_unlock(void);

#endif
