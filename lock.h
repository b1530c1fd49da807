/*
 * lock.h: the mbox delivery lock, taken the way Debian's MDAs take it
 * (Debian policy 11.6): fcntl on the file first, then a dotlock
 * "MAILBOX.lock" made by liblockfile (NFS-safe link(2), the pid inside so
 * a lock left by a dead process is recognised at once, and the setgid
 * dotlockfile helper when the spool directory is not writable by the user;
 * with --lock-group, the kept group around the dotlock's operations).
 *
 *   lock_acquire(lk, fd, path, excl)  both locks, or neither: the second is
 *                      only tried, never waited for while the first is held
 *                      (no deadlock with MDAs that lock in the other order);
 *                      gives up after LOCK_WAIT_MS.  Once held, what this
 *                      host caches about the file is dropped (netfs.h):
 *                      the caller sees it as other hosts last wrote it.
 *                      false: errno/log say why
 *   lock_refresh(lk)   touch the dotlock (held for long: 5-minute stale rule)
 *   lock_release(lk)   dotlock off, then fcntl off
 *   lock_set_group(gid)  --lock-group: gid is the process's saved
 *                      set-group-ID (kept through the drop from root, see
 *                      privs.h), made the effective gid only around the
 *                      dotlock's creation, touch and removal, in a spool
 *                      directory only that group may write
 * The delivery lock is held only to scan at login, verify and UPDATE.
 */
#ifndef POP3D_LOCK_H
#define POP3D_LOCK_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

struct lock {
	int fd;			/* -1: not held */
	char dotlock[PATH_MAX];
	time_t touched;
};

bool lock_acquire(struct lock *lk, int fd, const char *path, bool exclusive);
void lock_refresh(struct lock *lk);
void lock_release(struct lock *lk);
void lock_set_group(gid_t gid);

#endif
