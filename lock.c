/*
 * lock.c: fcntl + dotlock on the mbox, and the lock group.  See lock.h.
 *
 * Runs in: the user's session.
 */
#include "lock.h"
#include "log.h"
#include "netfs.h"
#include "params.h"

#include <errno.h>
#include <fcntl.h>
#include <lockfile.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool have_lock_gid;
static gid_t lock_gid;

void lock_set_group(gid_t gid)
{
	lock_gid = gid;
	have_lock_gid = true;
}

/* --lock-group: the kept group is the effective one only around the
 * dotlock's creation, touch and removal (pop3d.8 SECURITY).  Without it,
 * liblockfile reaches the setgid dotlockfile helper itself. */
enum dot_op { DOT_CREATE, DOT_TOUCH, DOT_REMOVE };

static int dotlock(enum dot_op op, const char *path)
{
	bool raised = have_lock_gid && setegid(lock_gid) == 0;
	int r = op == DOT_CREATE ? lockfile_create(path, 0, L_PID) :
	    op == DOT_TOUCH ? lockfile_touch(path) : lockfile_remove(path);
	int e = errno;
	if (raised && setegid(getgid()) != 0) {
		log_msg(LOG_CRIT, "cannot leave the lock group: %s",
		    strerror(errno));
		_exit(1);
	}
	errno = e;
	return r;
}

/* fcntl on the whole file, without waiting; EINTR is retried.  Returns
 * 1 locked, 0 busy, -1 error (errno). */
static int fcntl_try(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };
	for (;;) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EACCES || errno == EAGAIN ? 0 : -1;
	}
}

/* Held: from now on no other host writes the file (a delivery honours the
 * lock), and what this host caches about it from before goes (netfs.h), so
 * that the caller's fstat and reads see the file as the others left it. */
static bool fresh_view(struct lock *lk, const char *path)
{
	if (netfs_flush(lk->fd))
		return true;
	int e = errno;
	log_msg(LOG_ERR, "cannot refresh the view of %s on a shared file "
	    "system: %s", path, strerror(e));
	lock_release(lk);
	errno = e;
	return false;
}

bool lock_acquire(struct lock *lk, int fd, const char *path, bool exclusive)
{
	lk->fd = -1;
	if (snprintf(lk->dotlock, sizeof(lk->dotlock), "%s.lock", path) >=
	    (int)sizeof(lk->dotlock)) {
		errno = ENAMETOOLONG;
		return false;
	}
	long deadline = now_ms() + LOCK_WAIT_MS;
	int why = 0;
	for (;;) {
		int r = fcntl_try(fd, exclusive ? F_WRLCK : F_RDLCK);
		if (r < 0) {
			log_msg(LOG_ERR, "fcntl lock on %s: %s", path,
			    strerror(errno));
			return false;
		}
		if (r > 0) {
			/* Holding fcntl: one attempt at the dotlock, never a
			 * wait (liblockfile's own retries sleep 5 s each). */
			why = dotlock(DOT_CREATE, lk->dotlock);
			if (why == L_SUCCESS) {
				lk->fd = fd;
				lk->touched = time(NULL);
				return fresh_view(lk, path);
			}
			int e = errno;
			fcntl_try(fd, F_UNLCK);
			if (why != L_MAXTRYS) {
				log_msg(LOG_ERR, "cannot create %s (liblockfile "
				    "code %d): %s", lk->dotlock, why, strerror(e));
				errno = e;
				return false;
			}
		}
		if (now_ms() >= deadline)
			break;
		pause_ms(LOCK_RETRY_MS);
	}
	log_msg(LOG_WARNING, "%s is locked by another program (%s) for more "
	    "than %d ms", path, why == L_MAXTRYS ? "dotlock" : "fcntl",
	    LOCK_WAIT_MS);
	errno = EAGAIN;
	return false;
}

void lock_refresh(struct lock *lk)
{
	if (lk->fd < 0 || time(NULL) - lk->touched < LOCK_TOUCH_S)
		return;
	if (dotlock(DOT_TOUCH, lk->dotlock) < 0)
		log_msg(LOG_WARNING, "touching %s: %s", lk->dotlock,
		    strerror(errno));
	lk->touched = time(NULL);
}

void lock_release(struct lock *lk)
{
	if (lk->fd < 0)
		return;
	if (dotlock(DOT_REMOVE, lk->dotlock) < 0)
		log_msg(LOG_ERR, "removing %s: %s", lk->dotlock, strerror(errno));
	fcntl_try(lk->fd, F_UNLCK);
	lk->fd = -1;
}
