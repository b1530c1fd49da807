/*
 * handover.h: the user's part of a session runs in a program of its own.
 *
 * Started as root, the session process becomes the user (privs.h) and then
 * executes pop3d-session, installed beside pop3d: the new image holds
 * nothing of root's (no TLS key, no stdio buffer of the password file with
 * other users' hashes, no PAM memory), only what one fixed-size record
 * carries, and the client: fds 0/1 (the socket), or the TLS relay's
 * socketpair.  Nothing in the record is secret, and it comes from the
 * user's own process: the new image checks it for bounds, not for trust.
 * pop3d-session links neither libssl nor libpam, nor libcrypto, which it
 * loads only when it hashes much (digest.c); pop3d links none of them
 * either, and loads them only when its settings use them (dynload.h).
 *
 *   handover_prepare()   as root, once: pop3d-session, in the directory of
 *                        pop3d's own executable (/proc/self/exe), can be
 *                        executed; false if not (logged)
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
 * The new image reads the record and checks it (user.c, user_main).
 */
#ifndef POP3D_HANDOVER_H
#define POP3D_HANDOVER_H

#include "addr.h"
#include "io.h"
#include "log.h"
#include "params.h"
#include "session.h"
#include "state.h"
#include "tls.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define HANDOVER_PROGRAM	"pop3d-session"
/* A new version refuses a record it does not know (an upgrade between the
 * start and the exec). */
#define HANDOVER_MAGIC	"pop3d-session-1"
#define HANDOVER_RECORD_FD	3
#define HANDOVER_RELAY_FD	4
#define HANDOVER_LAST_FD	HANDOVER_RELAY_FD

struct handover {
	char magic[16];
	char name[MAX_USER + 1];	/* the account */
	uid_t uid;
	gid_t gid;
	bool lock_group;		/* --lock-group: kept as the saved gid */
	gid_t lock_gid;
	char mailbox[PATH_MAX];		/* expanded */
	struct state_plan plan;		/* the state directory to use */
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
	char output[IO_INPUT_BUFFER];	/* For the log: the session's ID and start (log.h), the octets sent
	 * so far, TLS (tls_describe) and the failed logins before this one. */
	char session[LOG_SESSION_ID_LEN + 1];
	long long start_ms;
	unsigned long long sent;
	char tls[TLS_DESCRIPTION_MAX];
	int failures;
};

bool handover_prepare(void);
bool handover_dropped(void);
void handover_exec(struct handover *h);

#endif
