/*
 * handover.h: the user's part of a session runs in a fresh image of pop3d.
 *
 * Started as root, the session process becomes the user (pop3d.c) and then
 * executes pop3d again, as "pop3d --user-session": the new image holds
 * nothing of root's (no TLS key, no stdio buffer of the password file with
 * other users' hashes, no PAM memory), only what one fixed-size record
 * carries, and the client: fds 0/1 (the socket), or the TLS relay's
 * socketpair.  Nothing in the record is secret, and it comes from the
 * user's own process: the new image checks it for bounds, not for trust.
 *
 *   handover_prepare()   as root, once: pop3d's own executable can be
 *                        executed again (/proc/self/exe); false if not
 *                        (logged)
 *   handover_dropped()   the kernel agrees that root is gone (its own
 *                        /proc/self/status): only an LD_PRELOADed uid
 *                        wrapper (the cwrap tests, run as root) can make a
 *                        process that is still root look like the user;
 *                        a fresh image would be root, so that one serves
 *                        in place
 *   handover_exec(h)     as the user: the record on fd 3 (an anonymous
 *                        file), h->relay moved to fd 4, then the exec; with
 *                        a kept --lock-group gid, that gid is made the
 *                        effective one first, so that the exec keeps it as
 *                        the saved gid (execve(2) copies the effective gid
 *                        to the saved one).  Returns only on failure
 *                        (logged)
 *   handover_receive(h)  in the new image (the caller has closed the fds
 *                        above HANDOVER_LAST_FD): the record read and
 *                        checked, fd 4 closed when there is no relay, the
 *                        effective gid back to the
 *                        user's, the process not dumpable.  false (logged)
 *                        if it is no record, or the real or effective uid
 *                        is 0, or the ids are not the record's
 */
#ifndef POP3D_HANDOVER_H
#define POP3D_HANDOVER_H

#include "addr.h"
#include "io.h"
#include "params.h"
#include "session.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define HANDOVER_ARG	"--user-session"
#define HANDOVER_LAST_FD	4	/* the record's fd 3, the relay's fd 4 */

struct handover {
	char magic[16];
	char name[MAX_USER + 1];	/* the account */
	uid_t uid;
	gid_t gid;
	bool lock_group;		/* --lock-group: kept as the saved gid */
	gid_t lock_gid;
	char mailbox[PATH_MAX];		/* expanded */
	char state[PATH_MAX];		/* state directory to use ("": none) */
	char state_fallback[PATH_MAX];	/* when it does not exist ("": none) */
	int uidl;			/* enum uidl_mode */
	int timeout;
	int debug;
	long long max_messages, max_bytes;
	char peer[ADDR_TEXT];		/* as pop3d.c keeps it */
	char method[8];
	struct policy policy;		/* for CAPA in TRANSACTION */
	int relay;			/* the TLS relay's socketpair, or -1 */
	pid_t login_pid;		/* the relay's process */
	size_t pending;			/* pipelined input not read yet */
	char input[IO_INPUT_BUFFER];
	size_t queued;			/* replies not sent yet */
	char output[IO_INPUT_BUFFER];
};

bool handover_prepare(void);
bool handover_dropped(void);
void handover_exec(struct handover *h);
bool handover_receive(struct handover *h);

#endif
